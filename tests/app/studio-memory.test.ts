import { describe, expect, test } from 'vitest';
import { HISTORY_LIMIT, parseHistory, serializeHistory, withHistoryItem, type HistoryItem } from '../../src/app/edit-history.ts';
import { differenceHeatmap, heatColor } from '../../src/app/image-compare.ts';
import { fromBase64Url, modelRefForChoice, parseModelRef, readShareHash, shareHash, toBase64Url } from '../../src/app/share-link.ts';
import { estimateImageMs, fitImageTime, formatDuration, withTiming } from '../../src/app/time-estimate.ts';

const recipeItem = (n: number): HistoryItem => {
  const id = n.toString(16).padStart(64, '0');
  return { id, label: `cat ${n}`, method: 'uce', words: 'words', packId: 'demo:tiny-sd15', at: n, entry: { kind: 'recipe', id, recipe: `{"n":${n}}`, label: `cat ${n}` } };
};

describe('edit history', () => {
  test('newest first, an edit made again moves to the front, at most HISTORY_LIMIT', () => {
    let history: HistoryItem[] = [];
    for (let n = 1; n <= HISTORY_LIMIT + 3; n++) history = withHistoryItem(history, recipeItem(n));
    expect(history).toHaveLength(HISTORY_LIMIT);
    expect(history[0].id).toBe(recipeItem(HISTORY_LIMIT + 3).id);
    history = withHistoryItem(history, recipeItem(10));
    expect(history[0].label).toBe('cat 10');
    expect(history.filter((h) => h.label === 'cat 10')).toHaveLength(1);
  });

  test('recipes survive a round trip through storage; LoRA bytes and damaged entries do not', () => {
    const lora: HistoryItem = { ...recipeItem(99), method: 'lora', entry: { kind: 'lora', id: 'x', bytes: new Uint8Array(4), fileName: 'f.safetensors', strength: 1 } };
    const stored = serializeHistory([recipeItem(1), lora, recipeItem(2)]);
    expect(parseHistory(stored)).toEqual([recipeItem(1), recipeItem(2)]);
    expect(parseHistory('not json')).toEqual([]);
    expect(parseHistory(JSON.stringify([{ id: 'short', recipe: '{}', label: 'x', method: 'uce' }, 5, null]))).toEqual([]);
    expect(parseHistory(null)).toEqual([]);
  });
});

describe('shareable link', () => {
  const recipe = '{\n  "concepts": "caté ✓"\n}\n';

  test('model and recipe round-trip through the hash, UTF-8 included', () => {
    const hash = shareHash({ kind: 'demo', preset: 'tiny-sd15' }, recipe);
    expect(hash).toMatch(/^#model=demo%3Atiny-sd15&recipe=[A-Za-z0-9_-]+$/);
    expect(readShareHash(hash)).toEqual({ model: { kind: 'demo', preset: 'tiny-sd15' }, recipe, problems: [] });
    const hub = shareHash({ kind: 'hub', repo: 'owner/name', revision: 'v1' }, null);
    expect(readShareHash(hub).model).toEqual({ kind: 'hub', repo: 'owner/name', revision: 'v1' });
    expect(fromBase64Url(toBase64Url(recipe))).toBe(recipe);
  });

  test('a damaged link is reported in words and not half-applied', () => {
    const read = readShareHash('#model=ftp:thing&recipe=%%%');
    expect(read.model).toBeNull();
    expect(read.recipe).toBeNull();
    expect(read.problems).toEqual([
      'The link\'s model "ftp:thing" is neither demo:<preset> nor hub:owner/name[@revision].',
      "The link's recipe is damaged (not base64url-encoded UTF-8); ask for the link again or open the recipe file instead.",
    ]);
    expect(() => parseModelRef('hub:no-slash')).toThrow(/neither demo/);
  });

  test('the model panel choice as a model id; a local folder cannot be shared', () => {
    const hub = { repo: ' a/b ', revision: '', endpoint: '', token: 'secret' };
    expect(modelRefForChoice({ choice: 'demo', demoPreset: 'tiny-sd21', hub })).toEqual({ kind: 'demo', preset: 'tiny-sd21' });
    expect(modelRefForChoice({ choice: 'hub', demoPreset: 'tiny-sd15', hub })).toEqual({ kind: 'hub', repo: 'a/b' });
    expect(modelRefForChoice({ choice: 'folder', demoPreset: 'tiny-sd15', hub })).toBeNull();
    // The token never goes into a link.
    expect(shareHash(modelRefForChoice({ choice: 'hub', demoPreset: 'tiny-sd15', hub }), null)).not.toContain('secret');
  });
});

describe('time estimates from measured image times', () => {
  test('fixed + per-step time fitted by least squares matches a float64 line', () => {
    const timings = [1, 2, 4, 8].map((steps) => ({ steps, ms: 900 + 250 * steps }));
    const fit = fitImageTime(timings)!;
    expect(fit.fixedMs).toBeCloseTo(900, 9);
    expect(fit.perStepMs).toBeCloseTo(250, 9);
    expect(estimateImageMs(timings, 20)).toBeCloseTo(5900, 9);
  });

  test('one step count: proportional; none: unknown; bad samples are ignored', () => {
    expect(estimateImageMs([{ steps: 2, ms: 1000 }], 4)).toBe(2000);
    expect(estimateImageMs([], 4)).toBeNull();
    expect(withTiming([], { steps: 0, ms: 5 })).toEqual([]);
    expect(formatDuration(400)).toBe('under a second');
    expect(formatDuration(12_400)).toBe('about 12 s');
    expect(formatDuration(185_000)).toBe('about 3 min');
    expect(formatDuration(Number.NaN)).toBe('unknown');
  });
});

describe('difference heatmap', () => {
  test('identical images are black; the largest difference is white; the scale is the mean RGB difference', () => {
    const a = new Uint8ClampedArray([10, 10, 10, 255, 0, 0, 0, 255, 50, 50, 50, 255]);
    const b = new Uint8ClampedArray([10, 10, 10, 255, 30, 0, 0, 255, 80, 80, 80, 255]);
    const { rgba, maxMeanDiff } = differenceHeatmap(a, b);
    expect(maxMeanDiff).toBe(30);
    expect([...rgba.slice(0, 4)]).toEqual([0, 0, 0, 255]);
    // Pixel 1 differs by 10 on average (30 in one channel): a third of the maximum -> pure red.
    expect([...rgba.slice(4, 8)]).toEqual([255, 0, 0, 255]);
    expect([...rgba.slice(8, 12)]).toEqual([255, 255, 255, 255]);
    expect([...differenceHeatmap(a, a).rgba.slice(8, 12)]).toEqual([0, 0, 0, 255]);
    expect(heatColor(0.5)).toEqual([255, 128, 0]);
    expect(() => differenceHeatmap(a, a.slice(4))).toThrow(/differ in size/);
  });
});
