import { describe, expect, test } from 'vitest';
import type { PackLoadProgress } from '../../src/engine/api.ts';
import { applyPackProgress, percent, pickedFolderName, specForChoice, type ModelChoice, type PackLoadView } from '../../src/app/model-load.ts';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';
import { MemoryPackSource } from '../../src/model/memory-source.ts';
import { openPack } from '../../src/model/pack-opener.ts';
import { InputError } from '../../src/util/errors.ts';
import { makeTinyPack } from '../model/tiny-pack.ts';

const base: ModelChoice = { choice: 'demo', demoPreset: 'tiny-sd21', hub: { repo: '', revision: '', endpoint: '', token: '' }, folder: null };

describe('specForChoice', () => {
  test('demo carries the preset; hub fields are trimmed and blanks left out', () => {
    expect(specForChoice(base)).toEqual({ kind: 'demo', preset: 'tiny-sd21' });
    expect(specForChoice({ ...base, choice: 'hub', hub: { repo: ' a/b ', revision: ' ', endpoint: '', token: '' } })).toEqual({ kind: 'hub', repo: 'a/b' });
    expect(specForChoice({ ...base, choice: 'hub', hub: { repo: 'a/b', revision: 'v2', endpoint: 'http://127.0.0.1:9/', token: 't' } })).toEqual({
      kind: 'hub',
      repo: 'a/b',
      revision: 'v2',
      endpoint: 'http://127.0.0.1:9/',
      token: 't',
    });
  });

  test('a missing repo or folder is an InputError saying what to do', () => {
    expect(() => specForChoice({ ...base, choice: 'hub' })).toThrow(InputError);
    expect(() => specForChoice({ ...base, choice: 'hub' })).toThrow(/owner\/name/);
    expect(() => specForChoice({ ...base, choice: 'folder' })).toThrow(/manifest\.json/);
  });

  test('a picked file list becomes a files spec named after its top folder', () => {
    const file = new File(['x'], 'manifest.json');
    Object.defineProperty(file, 'webkitRelativePath', { value: 'my-pack/manifest.json' });
    expect(pickedFolderName([file])).toBe('my-pack');
    expect(specForChoice({ ...base, choice: 'folder', folder: { kind: 'files', name: 'my-pack', files: [file] } })).toEqual({ kind: 'files', files: [file] });
  });
});

describe('applyPackProgress', () => {
  /** The folded view of one load, and the file order of the manifest that load read. */
  async function foldedLoad(cache: MemoryBlobCache, source: MemoryPackSource): Promise<{ view: PackLoadView | null; order: string[] }> {
    let view: PackLoadView | null = null;
    const opened = await openPack({ kind: 'demo' }, { cache, demoPack: async () => source, onProgress: (p) => (view = applyPackProgress(view, p)) });
    return { view, order: Object.keys(opened.manifest.files) };
  }

  test('folding the events of a real load gives one finished row per file, in manifest order, then cached marks', async () => {
    const pack = makeTinyPack(4);
    const source = new MemoryPackSource(new Map([...pack.files, ['manifest.json', new TextEncoder().encode(pack.manifestText)]]));
    const cache = new MemoryBlobCache();
    const total = [...pack.files.values()].reduce((n, f) => n + f.length, 0);

    const { view: first, order } = await foldedLoad(cache, source);
    expect(first?.files.map((f) => f.file)).toEqual(order);
    expect(first?.files.every((f) => f.bytesDone === f.bytesTotal && f.bytesTotal === pack.files.get(f.file)!.length && !f.cached)).toBe(true);
    expect(first).toMatchObject({ phase: 'download', overallDone: total, overallTotal: total });

    const { view: second } = await foldedLoad(cache, source);
    expect(second?.files.every((f) => f.cached)).toBe(true);
    expect(second?.files.length).toBe(pack.files.size);

    // the engine's later phases keep the rows and, when they carry no totals, the download's totals
    const prepare: PackLoadProgress = { phase: 'prepare', file: 'unet/down.onnx', bytesDone: 0, bytesTotal: 0, overallDone: 0, overallTotal: 0 };
    const prepared = applyPackProgress(second, prepare);
    expect(prepared).toMatchObject({ phase: 'prepare', item: 'unet/down.onnx', overallDone: total, overallTotal: total });
    expect(prepared.files).toBe(second?.files);
    const compile = applyPackProgress(prepared, { phase: 'compile', file: 'up', bytesDone: 0, bytesTotal: 0, overallDone: 1, overallTotal: 3 });
    expect(compile).toMatchObject({ overallDone: 1, overallTotal: 3, item: 'up' });
  });

  test('percent: empty totals count as complete, values are clamped', () => {
    expect(percent(0, 0)).toBe(100);
    expect(percent(1, 4)).toBe(25);
    expect(percent(5, 4)).toBe(100);
    expect(percent(-1, 4)).toBe(0);
  });
});
