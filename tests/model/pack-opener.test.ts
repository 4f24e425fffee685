import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { DemoPreset, PackLoadProgress, PackSourceSpec } from '../../src/engine/api.ts';
import { NodeDirBlobCache } from '../../src/model/cache/node-dir.ts';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';
import { MemoryPackSource } from '../../src/model/memory-source.ts';
import { describePackError } from '../../src/model/pack-error-advice.ts';
import { cacheInfo, clearCache, defaultBlobCache, openPack, summarizePack } from '../../src/model/pack-opener.ts';
import { FileNotFoundError } from '../../src/model/sources/errors.ts';
import { HubServer } from '../support/hub-server.ts';
import { rejection } from './rejection.ts';
import { BIG_FILE, makeTinyPack, sha256Node, type TinyPack } from './tiny-pack.ts';

const REPO = 'lethe-test/opener-pack';
let hub: HubServer;
let pack: TinyPack;
let other: TinyPack;
let tempRoot: string;
let caches = 0;

const manifestBytes = (p: TinyPack) => new TextEncoder().encode(p.manifestText);
const repoFiles = (p: TinyPack) => new Map([...p.files, ['manifest.json', manifestBytes(p)]]);
const totalBytes = (p: TinyPack) => [...p.files.values()].reduce((n, f) => n + f.length, 0);
const freshCache = () => new NodeDirBlobCache(join(tempRoot, `cache-${caches++}`));
const hubSpec = (extra: Partial<Extract<PackSourceSpec, { kind: 'hub' }>> = {}): PackSourceSpec => ({ kind: 'hub', repo: REPO, endpoint: hub.endpoint, ...extra });
/** What the UI receives after comlink rebuilds an error thrown in the worker. */
const throughComlink = (error: Error) => Object.assign(new Error(error.message), { name: error.name });

beforeAll(async () => {
  hub = await HubServer.start();
  pack = makeTinyPack(21);
  other = makeTinyPack(22, 2000);
  tempRoot = await mkdtemp(join(tmpdir(), 'lethe-opener-'));
});

afterAll(async () => {
  await hub.close();
  await rm(tempRoot, { recursive: true, force: true });
});

beforeEach(() => {
  hub.setRepo(REPO, repoFiles(pack));
  hub.setRepo(REPO, repoFiles(other), 'v2');
  hub.token = null;
  hub.clearLog();
});

describe('openPack', () => {
  test('hub: progress from manifest to every file, a summary, and a second open served from the cache', async () => {
    const cache = freshCache();
    const events: PackLoadProgress[] = [];
    const opened = await openPack(hubSpec(), { cache, onProgress: (p) => events.push(p) });

    expect(opened.manifest).toEqual(pack.manifest);
    expect(opened.manifestSha256).toBe(sha256Node(manifestBytes(pack)));
    expect(events[0]).toEqual({ phase: 'manifest', bytesDone: 0, bytesTotal: 0, overallDone: 0, overallTotal: 0 });
    const downloads = events.slice(1);
    expect(downloads.every((e) => e.phase === 'download' && e.overallTotal === totalBytes(pack) && e.cached === false)).toBe(true);
    expect(new Set(downloads.map((e) => e.file))).toEqual(new Set(pack.files.keys()));
    expect(downloads.at(-1)?.overallDone).toBe(totalBytes(pack));

    const { summary } = opened;
    expect(summary).toMatchObject({
      id: opened.manifestSha256,
      family: 'tiny-sd15',
      dtype: 'fp32',
      crossAttentionLayers: 2,
      latentSize: 8,
      bytes: totalBytes(pack),
      files: pack.files.size,
      downloadedBytes: totalBytes(pack),
      source: `hub ${hub.endpoint.replace('http://', '')}/${REPO}@main`,
    });
    expect(summary.description).toMatch(/^tiny SD 1\.5-shaped demo model \(tiny-sd15\), fp32, \d+ KiB in 10 files, 2 cross-attention layers, from hub 127\.0\.0\.1:\d+\/lethe-test\/opener-pack@main$/);
    expect(await opened.files.bytes(BIG_FILE)).toEqual(pack.files.get(BIG_FILE));

    hub.clearLog();
    const again: PackLoadProgress[] = [];
    const second = await openPack(hubSpec({ repo: `  ${REPO} `, revision: ' ', endpoint: `${hub.endpoint}/` }), { cache, onProgress: (p) => again.push(p) });
    expect(hub.log.map((e) => e.path)).toEqual(['manifest.json']);
    expect(second.summary.downloadedBytes).toBe(0);
    expect(again.slice(1).every((e) => e.cached === true)).toBe(true);
  });

  test('hub: the revision picks the pack; a resumed download counts only the bytes it fetched', async () => {
    const cache = freshCache();
    const v2 = await openPack(hubSpec({ revision: 'v2' }), { cache });
    expect(v2.manifest).toEqual(other.manifest);
    expect(v2.summary.source).toMatch(/@v2$/);

    hub.clearLog();
    hub.cutNext(BIG_FILE, 100_000);
    const main = await openPack(hubSpec(), { cache: freshCache() });
    // the cut response is resumed with a Range request; every byte is fetched exactly once
    expect(main.summary.downloadedBytes).toBe(totalBytes(pack));
    expect(hub.requestsFor(BIG_FILE).filter((e) => e.kind === 'cdn').map((e) => e.range)).toEqual([null, 'bytes=100000-']);
  });

  test('a load that gave up keeps its partial file; the next one downloads only the rest', async () => {
    const cache = freshCache();
    for (let i = 0; i < 4; i++) hub.cutNext(BIG_FILE, 50_000); // the first try and all 3 retries are cut
    const gaveUp = await rejection(openPack(hubSpec(), { cache }));
    expect(gaveUp.message).toMatch(/^unet\/down\.onnx\.data: download interrupted 4 times/);
    expect(describePackError(throughComlink(gaveUp), 'hub').advice).toMatch(/resumes where it stopped/);

    const before = await cacheInfo(cache); // complete files, the 200 000-byte partial and manifest.json
    const resumed = await openPack(hubSpec(), { cache });
    expect(resumed.summary.downloadedBytes).toBe(totalBytes(pack) + manifestBytes(pack).length - before.bytes);
    expect(resumed.summary.downloadedBytes).toBeLessThan(totalBytes(pack) - 200_000);
    expect(await resumed.files.bytes(BIG_FILE)).toEqual(pack.files.get(BIG_FILE));
  });

  test('path: a folder on disk, through the Node-only dynamic import', async () => {
    const folder = join(tempRoot, 'pack-folder');
    for (const [path, data] of repoFiles(pack)) {
      await mkdir(dirname(join(folder, path)), { recursive: true });
      await writeFile(join(folder, path), data);
    }
    const opened = await openPack({ kind: 'path', path: folder }, { cache: new MemoryBlobCache() });
    expect(opened.manifest).toEqual(pack.manifest);
    expect(opened.summary.source).toBe(`folder ${folder}`);
    expect(await opened.files.bytes('unet/up.onnx')).toEqual(pack.files.get('unet/up.onnx'));
  });

  test('files: a webkitdirectory file list whose manifest sits below the picked folder', async () => {
    const files = [...repoFiles(pack)].map(([path, data]) => {
      const file = new File([data as Uint8Array<ArrayBuffer>], path.split('/').at(-1)!);
      Object.defineProperty(file, 'webkitRelativePath', { value: `picked/my-pack/${path}` });
      return file;
    });
    const opened = await openPack({ kind: 'files', files }, { cache: new MemoryBlobCache() });
    expect(opened.manifest).toEqual(pack.manifest);
    expect(opened.summary.source).toBe('folder picked/my-pack');
    const none = await rejection(openPack({ kind: 'files', files: [] }, { cache: new MemoryBlobCache() }));
    expect(none.message).toMatch(/no files were picked/);
  });

  test('demo: the injected provider gets the preset (default tiny-sd15); without one the error says what to do', async () => {
    const asked: DemoPreset[] = [];
    const demoPack = async (preset: DemoPreset) => {
      asked.push(preset);
      return new MemoryPackSource(repoFiles(preset === 'tiny-sd21' ? other : pack), { id: `demo:${preset}`, name: `demo ${preset}` });
    };
    const cache = new MemoryBlobCache();
    const first = await openPack({ kind: 'demo' }, { cache, demoPack });
    const second = await openPack({ kind: 'demo', preset: 'tiny-sd21' }, { cache, demoPack });
    expect(asked).toEqual(['tiny-sd15', 'tiny-sd21']);
    expect(first.manifest).toEqual(pack.manifest);
    expect(second.manifest).toEqual(other.manifest);
    expect(first.summary.source).toBe('memory demo tiny-sd15');

    const error = await rejection(openPack({ kind: 'demo' }, { cache }));
    expect(error.message).toMatch(/no built-in demo pack/);
  });

  test('an aborted signal stops before any request', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(openPack(hubSpec(), { cache: freshCache(), signal: controller.signal }));
    expect(error.name).toBe('AbortError');
    expect(hub.log).toEqual([]);
    expect(describePackError(throughComlink(error), 'hub').title).toMatch(/cancelled/);
  });
});

describe('openPack errors name the file and say what to do, also after crossing comlink', () => {
  test('a file the manifest lists but the repo lacks', async () => {
    hub.setFile(REPO, 'unet/up.onnx', null);
    const error = await rejection<FileNotFoundError>(openPack(hubSpec(), { cache: freshCache() }));
    expect(error).toBeInstanceOf(FileNotFoundError);
    expect(error.path).toBe('unet/up.onnx');
    expect(error.message).toContain(`file not found: unet/up.onnx (${hub.endpoint}/${REPO}/resolve/main/unet/up.onnx`);
    const view = describePackError(throughComlink(error), 'hub');
    expect(view.title).toBe('file not found: unet/up.onnx — check the repo id and revision.');
    expect(view.detail).toBe(error.message);
  });

  test('a repo that is not a pack; a folder that is not a pack', async () => {
    const repoError = await rejection(openPack(hubSpec({ repo: 'lethe-test/no-such-repo' }), { cache: freshCache() }));
    expect(repoError.message).toMatch(/^file not found: manifest\.json/);
    expect(describePackError(throughComlink(repoError), 'hub').advice).toMatch(/repo id.*revision.*endpoint/);

    const empty = join(tempRoot, 'not-a-pack');
    await mkdir(empty, { recursive: true });
    const folderError = await rejection(openPack({ kind: 'path', path: empty }, { cache: new MemoryBlobCache() }));
    expect(folderError.message).toContain(`file not found: manifest.json (${join(empty, 'manifest.json')})`);
    expect(describePackError(throughComlink(folderError), 'path').advice).toMatch(/contains manifest\.json/);
  });

  test('a refused token, a malformed repo id, a damaged file on the server', async () => {
    hub.token = 'secret';
    const refused = await rejection(openPack(hubSpec({ token: 'wrong' }), { cache: freshCache() }));
    expect(refused.message).toMatch(/HTTP 401.*token was refused/);
    expect(describePackError(throughComlink(refused), 'hub').advice).toMatch(/valid read token/);
    const withToken = await openPack(hubSpec({ token: 'secret' }), { cache: freshCache() });
    expect(withToken.manifest).toEqual(pack.manifest);
    hub.token = null;

    const malformed = await rejection(openPack(hubSpec({ repo: 'not a repo' }), { cache: freshCache() }));
    expect(malformed.name).toBe('RangeError');
    expect(describePackError(throughComlink(malformed), 'hub').advice).toMatch(/owner\/name/);

    const damaged = pack.files.get('unet/cross_attention.safetensors')!.slice();
    damaged[7] ^= 1;
    hub.setFile(REPO, 'unet/cross_attention.safetensors', damaged);
    const mismatch = await rejection(openPack(hubSpec(), { cache: freshCache() }));
    expect(mismatch.name).toBe('IntegrityError');
    expect(mismatch.message).toMatch(/^unet\/cross_attention\.safetensors: sha256 mismatch/);
    expect(describePackError(throughComlink(mismatch), 'hub').title).toMatch(/did not match manifest\.json/);
  });

  test('a server that cannot be reached', async () => {
    const closed = await HubServer.start();
    const endpoint = closed.endpoint;
    await closed.close();
    const error = await rejection(openPack(hubSpec({ endpoint }), { cache: freshCache() }));
    expect(describePackError(throughComlink(error), 'hub').title).toBe('Could not reach the server.');
  });
});

describe('caches', () => {
  test('cacheInfo counts blobs and bytes (manifest included); clearCache empties it', async () => {
    const cache = freshCache();
    expect(await cacheInfo(cache)).toEqual({ description: cache.description, bytes: 0, entries: 0 });
    await openPack(hubSpec(), { cache });
    // every file plus manifest.json; the tiny pack has no two files with equal bytes
    expect(await cacheInfo(cache)).toEqual({ description: cache.description, bytes: totalBytes(pack) + manifestBytes(pack).length, entries: pack.files.size + 1 });
    await clearCache(cache);
    expect(await cacheInfo(cache)).toEqual({ description: cache.description, bytes: 0, entries: 0 });
  });

  test('defaultBlobCache in Node is the directory cache under $LETHE_CACHE_DIR', async () => {
    const previous = process.env.LETHE_CACHE_DIR;
    process.env.LETHE_CACHE_DIR = join(tempRoot, 'default-cache');
    try {
      const cache = await defaultBlobCache();
      expect(cache).toBeInstanceOf(NodeDirBlobCache);
      expect((cache as NodeDirBlobCache).root).toBe(join(tempRoot, 'default-cache'));
    } finally {
      if (previous === undefined) delete process.env.LETHE_CACHE_DIR;
      else process.env.LETHE_CACHE_DIR = previous;
    }
  });

  test('summarizePack names full-size families and singular layers', () => {
    const manifest = { ...pack.manifest, family: 'sd21' as const, dtype: 'fp16' as const, crossAttention: pack.manifest.crossAttention.slice(0, 1) };
    const summary = summarizePack(manifest, 'a'.repeat(64), 'folder /x');
    expect(summary.description).toMatch(/^Stable Diffusion 2\.1 \(sd21\), fp16, .* 1 cross-attention layer, from folder \/x$/);
    expect(summary.downloadedBytes).toBe(0);
  });
});
