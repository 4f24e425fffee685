import { describe, expect, test } from 'vitest';
import { alignedData, checkSeriesLengths, groupedBarLayout, valueRange } from '../../../src/app/components/charts/chart-data.ts';
import { seriesColor, SERIES_COLORS } from '../../../src/app/components/charts/palette.ts';

describe('groupedBarLayout', () => {
  test.each([
    [1, 1],
    [10, 2],
    [3, 5],
  ])('%i categories x %i series: bars tile the group, centred on the category, never overlapping', (categories, count) => {
    const fraction = 0.8;
    const { left, width } = groupedBarLayout(categories, count, fraction);
    expect(width).toBeCloseTo(fraction / count, 12);
    expect(left).toHaveLength(count);
    for (let i = 0; i < categories; i++) {
      const edges = left.map((row) => row[i]);
      // Adjacent series touch exactly; the group spans [i - f/2, i + f/2].
      for (let s = 1; s < count; s++) expect(edges[s] - edges[s - 1]).toBeCloseTo(width, 12);
      expect(edges[0]).toBeCloseTo(i - fraction / 2, 12);
      expect(edges[count - 1] + width).toBeCloseTo(i + fraction / 2, 12);
      // Groups of neighbouring categories leave a gap of 1 - f between them.
      if (i > 0) expect(edges[0] - (left[count - 1][i - 1] + width)).toBeCloseTo(1 - fraction, 12);
    }
  });

  test('rejects counts that cannot be drawn, naming the argument', () => {
    expect(() => groupedBarLayout(3, 0)).toThrow(/seriesCount/);
    expect(() => groupedBarLayout(-1, 2)).toThrow(/categoryCount/);
    expect(() => groupedBarLayout(3, 2, 1.5)).toThrow(/groupFraction/);
  });
});

describe('chart data', () => {
  test('alignedData puts x first, one column per series, gaps kept', () => {
    expect(alignedData([0, 1, 2], [{ label: 'a', values: [1, null, 3] }, { label: 'b', values: [4, 5, 6] }])).toEqual([
      [0, 1, 2],
      [1, null, 3],
      [4, 5, 6],
    ]);
  });

  test('a series with the wrong length is named', () => {
    expect(() => checkSeriesLengths('BarChart', 3, [{ label: 'after', values: [1, 2] }])).toThrow('BarChart: series "after" has 2 values, expected 3 (one per category)');
  });

  test('valueRange: fixed wins; zero included for bars; log ignores non-positive values; empty is drawable', () => {
    expect(valueRange([{ label: 'a', values: [0.2, 0.4] }], { fixed: [0, 1] })).toEqual([0, 1]);
    const [lo, hi] = valueRange([{ label: 'a', values: [0.2, 0.4] }], { includeZero: true });
    expect(lo).toBe(0);
    expect(hi).toBeCloseTo(0.42, 12);
    const [llo, lhi] = valueRange([{ label: 'loss', values: [0, -1, 0.01, 100] }], { log: true });
    expect(llo).toBeCloseTo(0.008, 12);
    expect(lhi).toBeCloseTo(125, 12);
    expect(valueRange([{ label: 'a', values: [null] }])).toEqual([0, 1]);
    const [clo, chi] = valueRange([{ label: 'a', values: [2, 2] }]);
    expect(clo).toBeLessThan(2);
    expect(chi).toBeGreaterThan(2);
  });

  test('series colours cycle through the palette', () => {
    expect(seriesColor(0)).toBe(SERIES_COLORS[0]);
    expect(seriesColor(SERIES_COLORS.length + 1)).toBe(SERIES_COLORS[1]);
    expect(new Set(SERIES_COLORS).size).toBe(SERIES_COLORS.length);
  });
});
