/**
 * Series colours for charts on the studio's dark background: distinguishable for the common
 * colour-vision deficiencies (Okabe–Ito order), so "before" and "after" never rely on red/green.
 */
export const SERIES_COLORS: readonly string[] = ['#56b4e9', '#e69f00', '#009e73', '#f0e442', '#cc79a7', '#0072b2', '#d55e00', '#9fb3c8'];

/** The colour of series `index`, cycling through the palette. */
export function seriesColor(index: number): string {
  return SERIES_COLORS[((index % SERIES_COLORS.length) + SERIES_COLORS.length) % SERIES_COLORS.length];
}

/** Axis, grid and text colours matching styles.css. */
export const CHART_THEME = { axis: '#9fb3c8', grid: '#263445', text: '#dfe7ef' } as const;
