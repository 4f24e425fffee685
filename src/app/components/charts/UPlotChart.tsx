import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './charts.css';

export interface UPlotChartProps {
  /** uPlot options without size; a new object rebuilds the chart, so memoize it. */
  options: Omit<uPlot.Options, 'width' | 'height'>;
  /** New data is drawn into the existing chart (cheap; a training curve updates every step). */
  data: uPlot.AlignedData;
  height: number;
  testId?: string;
  /** Short text for screen readers: what the chart shows. */
  label: string;
}

/**
 * The one place the studio touches uPlot: builds the chart in a div, follows the div's width,
 * redraws on new data and destroys the chart on unmount. BarChart and LineChart only build options.
 */
export function UPlotChart({ options, data, height, testId, label }: UPlotChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const latestData = useRef(data);
  latestData.current = data;

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const width = Math.max(120, Math.floor(element.clientWidth || 480));
    const plot = new uPlot({ ...options, width, height }, latestData.current, element);
    chart.current = plot;
    // Follow the panel's width (the layout reflows when panels open); height stays fixed.
    const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(() => {
      const next = Math.max(120, Math.floor(element.clientWidth));
      if (next !== plot.width) plot.setSize({ width: next, height });
    }) : null;
    observer?.observe(element);
    return () => {
      observer?.disconnect();
      plot.destroy();
      if (chart.current === plot) chart.current = null;
    };
  }, [options, height]);

  useEffect(() => {
    chart.current?.setData(data);
  }, [data]);

  return <div ref={host} className="uplot-host" data-testid={testId} role="img" aria-label={label} />;
}
