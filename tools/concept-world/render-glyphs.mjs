#!/usr/bin/env node
/**
 * Rasterizes every concept-world glyph once, at 64x64 RGBA on a transparent background, into
 * out/glyphs.bin (uint8, [glyph, y, x, rgba]) and out/glyphs.json (class and icon per glyph).
 * The trainer places, scales, rotates and styles these itself, so rendering happens once.
 */
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import { CLASS_GLYPHS } from './glyphs.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.argv[2] ?? join(here, 'out');
const SIZE = 64;

const iconSet = JSON.parse(readFileSync(require.resolve('@iconify-json/noto/icons.json'), 'utf8'));
const world = JSON.parse(readFileSync(join(here, '../../public/concept-world/world.json'), 'utf8'));

const entries = [];
const pixels = [];
for (const [classIndex, object] of world.objects.entries()) {
  const icons = CLASS_GLYPHS[object.name];
  if (!icons) throw new Error(`glyphs.mjs: no glyphs for class "${object.name}" of world.json`);
  for (const icon of icons) {
    const data = iconSet.icons[icon];
    if (!data) throw new Error(`@iconify-json/noto has no icon "${icon}" (class ${object.name})`);
    const width = data.width ?? iconSet.width;
    const height = data.height ?? iconSet.height;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${SIZE}" height="${SIZE}">${data.body}</svg>`;
    const rendered = new Resvg(svg, { fitTo: { mode: 'width', value: SIZE } }).render();
    if (rendered.width !== SIZE || rendered.height !== SIZE) throw new Error(`${icon}: rendered ${rendered.width}x${rendered.height}, expected ${SIZE}x${SIZE}`);
    pixels.push(Buffer.from(rendered.pixels));
    entries.push({ class: object.name, classIndex, icon });
  }
}
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'glyphs.bin'), Buffer.concat(pixels));
writeFileSync(join(outDir, 'glyphs.json'), JSON.stringify({ size: SIZE, glyphs: entries }, null, 1));
console.log(`${entries.length} glyphs -> ${outDir}`);
