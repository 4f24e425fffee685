import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { parseRecipe } from '../../src/erasure/recipe.ts';
import { decodePng } from '../../src/pipeline/image/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'lethe-cli-'));
const path = (name: string) => join(dir, name);
process.env.LETHE_CACHE_DIR = path('cache');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args) => void out.push(args.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args) => void err.push(args.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return { out, err };
}
afterEach(() => vi.restoreAllMocks());

beforeAll(async () => {
  capture();
  expect(await main(['forge', '--preset', 'tiny-sd15', '--out', path('export')])).toBe(0);
  expect(await main(['convert', '--in', path('export'), '--out', path('pack')])).toBe(0);
  vi.restoreAllMocks();
}, 120_000);

describe('lethe CLI on a forged tiny-sd15', () => {
  test('tokenize prints 77 ids per text, bos first, eos-padded', async () => {
    const { out } = capture();
    expect(await main(['tokenize', '--tokenizer', path('export/tokenizer'), 'a photo of a cat', 'van gogh'])).toBe(0);
    const rows = out.map((line) => JSON.parse(line) as number[]);
    expect(rows).toHaveLength(2);
    for (const ids of rows) {
      expect(ids).toHaveLength(77);
      expect(ids[0]).toBe(912);
      expect(ids.at(-1)).toBe(913);
    }
  });

  test('generate writes a PNG; the same seed gives the same bytes', async () => {
    capture();
    const args = (out: string) => ['generate', '--pack', path('pack'), '--prompt', 'a photo of a cat', '--seed', '9', '--steps', '3', '--out', path(out)];
    expect(await main(args('a.png'))).toBe(0);
    expect(await main(args('b.png'))).toBe(0);
    const a = readFileSync(path('a.png'));
    expect(a.equals(readFileSync(path('b.png')))).toBe(true);
    const image = await decodePng(new Uint8Array(a), 'a.png');
    expect([image.width, image.height]).toEqual([64, 64]);
  }, 120_000);

  test('erase writes a recipe for this pack; generate --recipe changes the image', async () => {
    capture();
    expect(await main(['erase', '--pack', path('pack'), '--concept', 'cat', '--retain', 'dog', '--out', path('recipe.json')])).toBe(0);
    const recipe = parseRecipe(readFileSync(path('recipe.json'), 'utf8'), 'recipe.json');
    expect(recipe.concepts.targets[0].concept).toBe('cat');
    const base = ['generate', '--pack', path('pack'), '--prompt', 'a photo of a cat', '--seed', '9', '--steps', '3'];
    expect(await main([...base, '--out', path('original.png')])).toBe(0);
    expect(await main([...base, '--recipe', path('recipe.json'), '--out', path('erased.png')])).toBe(0);
    expect(readFileSync(path('original.png')).equals(readFileSync(path('erased.png')))).toBe(false);
  }, 120_000);

  test('bad flags are usage errors that name the flag', async () => {
    const { err } = capture();
    expect(await main(['generate', '--pack', path('pack'), '--prompt', 'x', '--out', path('x.png'), '--scheduler', 'plms'])).toBe(2);
    expect(err.join('\n')).toMatch(/--scheduler must be one of ddim, euler_a, dpmpp_2m/);
    expect(await main(['forge', '--preset', 'sd9', '--out', path('x')])).toBe(2);
    expect(await main(['nonsense'])).toBe(2);
  });
});
