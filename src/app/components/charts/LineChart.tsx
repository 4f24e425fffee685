import { useMemo } from 'react';
import uPlot from 'uplot';
import { alignedData, checkSeriesLengths, type ChartSeries } from './chart-data.ts';
import { CHART_THEME, seriesColor } from './palette.ts';
import { UPlotChart } from './UPlotChart.tsx';

export interface LineChartProps {
  /** Increasing x values (training step, epoch, scale…), shared by every series. */
  x: readonly number[];
  series: readonly ChartSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** A logarithmic y axis (losses spanning decades); non-positive values are not drawn. */
  logY?: boolean;
  yRange?: [number, number];
  format?: (value: number) => string;
  height?: number;
  testId?: string;
  caption?: string;
}

const defaultFormat = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toPrecision(3));

/**
 * Lines over a numeric x (a loss curve that grows while training runs: new data redraws the same
 * chart instead of rebuilding it).
 */
export function LineChart({ x, series, title, xLabel, yLabel, logY = false, yRange, format = defaultFormat, height = 220, testId, caption }: LineChartProps) {
  checkSeriesLengths('LineChart', x.length, series);
  const seriesKey = series.map((s) => `${s.label}\u0000${s.color ?? ''}`).join('\u0001');

  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      title,
      legend: { show: true },
      cursor: { drag: { x: true, y: false } },
      scales: {
        x: { time: false },
        y: logY ? { distr: 3, ...(yRange ? { range: () => yRange } : {}) } : yRange ? { range: () => yRange } : { auto: true },
      },
      axes: [
        { stroke: CHART_THEME.axis, grid: { stroke: CHART_THEME.grid, width: 1 }, label: xLabel },
        { stroke: CHART_THEME.axis, grid: { stroke: CHART_THEME.grid, width: 1 }, label: yLabel, values: (_u, splits) => splits.map((v) => (v == null ? '' : format(v))) },
      ],
      series: [
        { label: xLabel ?? 'x' },
        ...series.map((s, index): uPlot.Series => ({
          label: s.label,
          stroke: s.color ?? seriesColor(index),
          width: 1.5,
          points: { show: x.length <= 40 },
          value: (_u, v) => (v == null ? '–' : format(v)),
        })),
      ],
    }),
    // Keyed on the labels and settings, not the arrays' identity: new values alone redraw via setData.
    [seriesKey, title, xLabel, yLabel, logY, yRange?.[0], yRange?.[1], format, x.length <= 40],
  );

  const data = useMemo(() => {
    // A log axis cannot place 0 or negatives; they become gaps instead of breaking the scale.
    const shown = logY ? series.map((s) => ({ ...s, values: s.values.map((v) => (v !== null && v > 0 ? v : null)) })) : series;
    return alignedData(x, shown);
  }, [x, series, logY]);
  const label = `${title ?? 'line chart'}: ${series.map((s) => s.label).join(', ')}`;
  return (
    <figure className="chart line-chart">
      <UPlotChart options={options} data={data} height={height} testId={testId} label={label} />
      {caption && <figcaption>{caption}</figcaption>}
    </figure>
  );
}
