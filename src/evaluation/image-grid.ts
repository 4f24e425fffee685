import type { JudgeImage } from './judges/judge.ts';

/** Cells of an image grid: rows of images, each row one prompt under one model, columns the seeds. */
export interface GridCell {
  row: number;
  column: number;
  image: JudgeImage;
}

/**
 * One RGBA picture of a grid of equally sized images with `gap` pixels of `background` between
 * them (the studio's PNG export: prompts x seeds, before above after). Missing cells stay background.
 */
export function composeGrid(cells: readonly GridCell[], rows: number, columns: number, gap = 2, background: [number, number, number] = [15, 20, 27]): JudgeImage {
  if (cells.length === 0) throw new RangeError('composeGrid: no images');
  const { width: cw, height: ch } = cells[0].image;
  for (const cell of cells) {
    if (cell.image.width !== cw || cell.image.height !== ch) throw new RangeError(`composeGrid: images differ in size (${cw}x${ch} and ${cell.image.width}x${cell.image.height})`);
    if (cell.row < 0 || cell.row >= rows || cell.column < 0 || cell.column >= columns) throw new RangeError(`composeGrid: cell (${cell.row}, ${cell.column}) is outside ${rows}x${columns}`);
  }
  const width = columns * cw + (columns + 1) * gap;
  const height = rows * ch + (rows + 1) * gap;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[i * 4] = background[0];
    rgba[i * 4 + 1] = background[1];
    rgba[i * 4 + 2] = background[2];
    rgba[i * 4 + 3] = 255;
  }
  for (const { row, column, image } of cells) {
    const x0 = gap + column * (cw + gap);
    const y0 = gap + row * (ch + gap);
    for (let y = 0; y < ch; y++) rgba.set(image.rgba.subarray(y * cw * 4, (y + 1) * cw * 4), ((y0 + y) * width + x0) * 4);
  }
  return { width, height, rgba };
}
