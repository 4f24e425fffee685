import { useMemo } from 'react';
import uPlot from 'uplot';
import { alignedData, checkSeriesLengths, groupedBarLayout, valueRange, type ChartSeries } from './chart-data.ts';
import { CHART_THEME, seriesColor } from './palette.ts';
import { UPlotChart } from './UPlotChart.tsx';

export interface BarChartProps {
  /** One group of bars per category, labelled on the x axis. */
  categories: readonly string[];
  /** One bar per category each, side by side in the order given (e.g. before, after). */
  series: readonly ChartSeries[];
  title?: string;
  yLabel?: string;
  /** A fixed y range, e.g. [0, 1] for accuracies; otherwise fitted to the values (with 0). */
  yRange?: [number, number];
  /** How a value reads in the legend/tooltip (default: 3 significant digits). */
  format?: (value: number) => string;
  height?: number;
  testId?: string;
  caption?: string;
}

const defaultFormat = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toPrecision(3));

/** Grouped bars over named categories (before vs after per class, one group per class). */
export function BarChart({ categories, series, title, yLabel, yRange, format = defaultFormat, height = 240, testId, caption }: BarChartProps) {
  checkSeriesLengths('BarChart', categories.length, series);
  const seriesKey = series.map((s) => `${s.label}\u0000${s.color ?? ''}`).join('\u0001');
  const categoryKey = categories.join('\u0001');
  const range = valueRange(series, { fixed: yRange, includeZero: true });

  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(() => {
    const layout = groupedBarLayout(categories.length, Math.max(1, series.length));
    const indices = categories.map((_, i) => i);
    return {
      title,
      legend: { show: true },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: {
        x: { time: false, range: () => [-0.5, Math.max(0.5, categories.length - 0.5)] },
        y: { range: () => range },
      },
      axes: [
        {
          stroke: CHART_THEME.axis,
          grid: { show: false },
          ticks: { show: false },
          splits: () => indices,
          values: (_u, splits) => splits.map((v) => categories[v] ?? ''),
        },
        { stroke: CHART_THEME.axis, grid: { stroke: CHART_THEME.grid, width: 1 }, label: yLabel, values: (_u, splits) => splits.map((v) => format(v)) },
      ],
      series: [
        { label: 'class', value: (_u, v) => (v == null ? '' : (categories[v] ?? '')) },
        ...series.map((s, index): uPlot.Series => {
          const color = s.color ?? seriesColor(index);
          return {
            label: s.label,
            fill: color,
            stroke: color,
            width: 0,
            points: { show: false },
            value: (_u, v) => (v == null ? '–' : format(v)),
            paths: uPlot.paths.bars!({
              size: [1],
              disp: {
                x0: { unit: 1, values: () => layout.left[index] },
                size: { unit: 1, values: () => categories.map(() => layout.width) },
              },
            }),
          };
        }),
      ],
    };
    // The keys stand for the arrays' contents: a new array with the same labels keeps the chart.
  }, [categoryKey, seriesKey, title, yLabel, range[0], range[1], format]);

  const data = useMemo(() => alignedData(categories.map((_, i) => i), series), [categoryKey, series]);
  const label = `${title ?? 'bar chart'}: ${series.map((s) => s.label).join(', ')} over ${categories.join(', ')}`;
  return (
    <figure className="chart bar-chart">
      <UPlotChart options={options} data={data} height={height} testId={testId} label={label} />
      {caption && <figcaption>{caption}</figcaption>}
    </figure>
  );
}
