import type uPlot from 'uplot';

/** One named row of values in a chart (a bar group member or a line). */
export interface ChartSeries {
  label: string;
  /** One value per category (bar chart) or per x (line chart); null is a gap. */
  values: readonly (number | null)[];
  /** CSS colour; the palette's colour for its index when absent. */
  color?: string;
}

/** Where each series' bar sits inside its category, in x-scale units (category i is centred on i). */
export interface GroupedBarLayout {
  /** left[s][i]: left edge of series s's bar in category i. */
  left: number[][];
  /** Width of every bar. */
  width: number;
}

/**
 * Side-by-side bars: `groupFraction` of each category's unit width is shared equally by the
 * series, centred on the category. uPlot draws only one bar per x; giving each series its own
 * left edges is how grouped bars are drawn without overlapping.
 */
export function groupedBarLayout(categoryCount: number, seriesCount: number, groupFraction = 0.8): GroupedBarLayout {
  if (!Number.isInteger(categoryCount) || categoryCount < 0) throw new RangeError(`groupedBarLayout: categoryCount must be a non-negative integer, got ${categoryCount}`);
  if (!Number.isInteger(seriesCount) || seriesCount < 1) throw new RangeError(`groupedBarLayout: seriesCount must be a positive integer, got ${seriesCount}`);
  if (!(groupFraction > 0 && groupFraction <= 1)) throw new RangeError(`groupedBarLayout: groupFraction must be in (0, 1], got ${groupFraction}`);
  const width = groupFraction / seriesCount;
  const left = Array.from({ length: seriesCount }, (_, s) => Array.from({ length: categoryCount }, (_, i) => i - groupFraction / 2 + s * width));
  return { left, width };
}

/** Checks that every series has one value per category/x and says which one does not. */
export function checkSeriesLengths(chart: string, expected: number, series: readonly ChartSeries[]): void {
  for (const s of series)
    if (s.values.length !== expected) throw new RangeError(`${chart}: series "${s.label}" has ${s.values.length} values, expected ${expected} (one per ${chart === 'BarChart' ? 'category' : 'x'})`);
}

/** uPlot's column-major data: x first, then one array per series. */
export function alignedData(x: readonly number[], series: readonly ChartSeries[]): uPlot.AlignedData {
  return [Array.from(x), ...series.map((s) => Array.from(s.values))] as uPlot.AlignedData;
}

/**
 * The y range that shows every value with a little headroom; `fixed` wins when given (accuracy
 * charts are always 0..1 so that two edits' charts compare by eye).
 */
export function valueRange(series: readonly ChartSeries[], options: { fixed?: [number, number]; includeZero?: boolean; log?: boolean } = {}): [number, number] {
  if (options.fixed) return options.fixed;
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series)
    for (const v of s.values)
      if (v !== null && Number.isFinite(v) && (!options.log || v > 0)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
  if (!Number.isFinite(lo)) return options.log ? [0.1, 10] : [0, 1];
  if (options.log) return [lo / 1.25, hi * 1.25];
  if (options.includeZero) {
    lo = Math.min(0, lo);
    hi = Math.max(0, hi);
  }
  const pad = hi > lo ? (hi - lo) * 0.05 : Math.abs(hi) * 0.05 || 1;
  return [options.includeZero && lo === 0 ? 0 : lo - pad, hi + pad];
}
