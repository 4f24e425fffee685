export { BarChart, type BarChartProps } from './BarChart.tsx';
export { LineChart, type LineChartProps } from './LineChart.tsx';
export type { ChartSeries } from './chart-data.ts';
export { SERIES_COLORS, seriesColor } from './palette.ts';
