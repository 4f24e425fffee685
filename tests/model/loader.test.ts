import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { IntegrityError } from '../../src/model/cache/blob-cache.ts';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';
import { NodeDirBlobCache } from '../../src/model/cache/node-dir.ts';
import { loadPackFiles, type LoadProgress } from '../../src/model/loader.ts';
import { serializeManifest } from '../../src/model/manifest.ts';
import { FileNotFoundError } from '../../src/model/sources/errors.ts';
import { HubSource } from '../../src/model/sources/hub.ts';
import { NodeFolderSource } from '../../src/model/sources/node-folder.ts';
import { FormatError } from '../../src/util/errors.ts';
import { HubServer } from '../support/hub-server.ts';
import { rejection } from './rejection.ts';
import { BIG_FILE, EMPTY_FILE, makeTinyPack, sha256Node, type TinyPack } from './tiny-pack.ts';

const REPO = 'lethe-test/tiny-sd15';
let hub: HubServer;
let pack: TinyPack;
let tempRoot: string;
let cacheCount = 0;

beforeAll(async () => {
  hub = await HubServer.start();
  pack = makeTinyPack(11);
  tempRoot = await mkdtemp(join(tmpdir(), 'lethe-loader-'));
});

afterAll(async () => {
  await hub.close();
  await rm(tempRoot, { recursive: true, force: true });
});

beforeEach(() => {
  hub.setRepo(REPO, new Map([...pack.files, ['manifest.json', new TextEncoder().encode(pack.manifestText)]]));
  hub.ignoreRange = false;
  hub.missingStyle = '404-html';
  hub.token = null;
  hub.clearLog();
});

function source(): HubSource {
  return new HubSource({ repo: REPO, endpoint: hub.endpoint });
}

function freshCache(): NodeDirBlobCache {
  return new NodeDirBlobCache(join(tempRoot, `cache-${cacheCount++}`));
}

/** Requests other than for manifest.json. */
function fileRequests() {
  return hub.log.filter((entry) => entry.path !== 'manifest.json');
}

function expectMonotonic(events: LoadProgress[]): void {
  for (let i = 1; i < events.length; i++) {
    expect(events[i].overallDone).toBeGreaterThanOrEqual(events[i - 1].overallDone);
    if (events[i].file === events[i - 1].file) expect(events[i].bytesDone).toBeGreaterThanOrEqual(events[i - 1].bytesDone);
  }
  for (const event of events) {
    expect(event.bytesDone).toBeLessThanOrEqual(event.bytesTotal);
    expect(event.overallDone).toBeLessThanOrEqual(event.overallTotal);
  }
}

const totalBytes = () => [...pack.files.values()].reduce((n, f) => n + f.length, 0);

describe('loadPackFiles from a hub', () => {
  test('first load downloads every file with monotonic progress; second load only re-reads manifest.json', async () => {
    const cache = freshCache();
    const events: LoadProgress[] = [];
    const files = await loadPackFiles(source(), cache, { onProgress: (p) => events.push(p), progressIntervalMs: 0 });

    expect(files.manifest).toEqual(pack.manifest);
    expectMonotonic(events);
    expect(events.every((e) => e.overallTotal === totalBytes())).toBe(true);
    expect(events.at(-1)?.overallDone).toBe(totalBytes());
    for (const [path, data] of pack.files) {
      const last = events.filter((e) => e.file === path).at(-1);
      expect(last).toMatchObject({ bytesDone: data.length, bytesTotal: data.length, cached: false });
      expect(await files.bytes(path)).toEqual(data);
    }
    // the big file arrived in several chunks, so progress was reported mid-file
    expect(events.filter((e) => e.file === BIG_FILE && e.bytesDone > 0 && e.bytesDone < e.bytesTotal).length).toBeGreaterThan(0);
    // large files went through the CDN redirect, small ones were served directly, the empty one never asked for
    expect(hub.requestsFor(BIG_FILE).map((e) => [e.kind, e.status])).toEqual([['resolve', 302], ['cdn', 200]]);
    expect(hub.requestsFor('tokenizer/merges.txt').map((e) => [e.kind, e.status])).toEqual([['resolve', 200]]);
    expect(hub.requestsFor(EMPTY_FILE)).toEqual([]);
    expect(await cache.sizeBytes()).toBe(totalBytes() + pack.manifestText.length);

    hub.clearLog();
    const secondEvents: LoadProgress[] = [];
    const second = await loadPackFiles(source(), cache, { onProgress: (p) => secondEvents.push(p) });
    expect(fileRequests()).toEqual([]);
    expect(hub.log.map((e) => e.path)).toEqual(['manifest.json']);
    expect(secondEvents.every((e) => e.cached)).toBe(true);
    expect(secondEvents.at(-1)?.overallDone).toBe(totalBytes());
    expect(await second.text('scheduler/scheduler_config.json').catch((e: unknown) => e)).toBeInstanceOf(FormatError); // random bytes are not UTF-8

    hub.clearLog();
    const offline = await loadPackFiles(source(), cache, { offline: true });
    expect(hub.log).toEqual([]);
    expect(offline.manifestSha256).toBe(sha256Node(new TextEncoder().encode(pack.manifestText)));
    expect(await offline.bytes(BIG_FILE)).toEqual(pack.files.get(BIG_FILE));
  });

  test('a cached file that was truncated or bit-flipped is detected and fetched again', async () => {
    const cache = freshCache();
    await loadPackFiles(source(), cache);
    const blobPath = (path: string) => join(cache.root, 'blobs', pack.manifest.files[path].sha256);

    // truncated: the size check at load time finds it
    await writeFile(blobPath('unet/up.onnx'), pack.files.get('unet/up.onnx')!.subarray(0, 100));
    // same size, one bit flipped: only a hash check finds it
    const flipped = pack.files.get(BIG_FILE)!.slice();
    flipped[12345] ^= 1;
    await writeFile(blobPath(BIG_FILE), flipped);

    hub.clearLog();
    const files = await loadPackFiles(source(), cache);
    expect(fileRequests().map((e) => e.path)).toEqual(['unet/up.onnx', 'unet/up.onnx']); // resolve + cdn
    expect(await readFile(blobPath('unet/up.onnx'))).toEqual(Buffer.from(pack.files.get('unet/up.onnx')!));

    // reading the flipped file checks its hash, drops it and fetches it again
    hub.clearLog();
    expect(await files.bytes(BIG_FILE)).toEqual(pack.files.get(BIG_FILE));
    expect(fileRequests().filter((e) => e.kind === 'cdn').map((e) => e.path)).toEqual([BIG_FILE]);

    // verifyCached: 'hash' finds it at load time instead
    await writeFile(blobPath(BIG_FILE), flipped);
    hub.clearLog();
    await loadPackFiles(source(), cache, { verifyCached: 'hash' });
    expect(fileRequests().filter((e) => e.kind === 'cdn').map((e) => e.path)).toEqual([BIG_FILE]);
    expect(await readFile(blobPath(BIG_FILE))).toEqual(Buffer.from(pack.files.get(BIG_FILE)!));

    // a stream of a corrupted file errors at its end
    await writeFile(blobPath(BIG_FILE), flipped);
    const stream = await files.stream(BIG_FILE);
    await expect(new Response(stream).arrayBuffer()).rejects.toThrow(/sha256 mismatch/);
    expect(existsSync(blobPath(BIG_FILE))).toBe(false);
  });

  test('a download cut midway resumes with a Range request within the same load', async () => {
    const cache = freshCache();
    hub.cutNext(BIG_FILE, 100_000);
    const events: LoadProgress[] = [];
    const files = await loadPackFiles(source(), cache, { onProgress: (p) => events.push(p), progressIntervalMs: 0 });
    const cdn = hub.requestsFor(BIG_FILE).filter((e) => e.kind === 'cdn');
    expect(cdn).toHaveLength(2);
    expect(cdn[0]).toMatchObject({ range: null, bytesSent: 100_000 });
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(cdn[1].range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(100_000);
    expect(cdn[1]).toMatchObject({ status: 206, bytesSent: pack.files.get(BIG_FILE)!.length - resumedAt });
    expectMonotonic(events);
    expect(await files.bytes(BIG_FILE)).toEqual(pack.files.get(BIG_FILE));
  });

  test('an interrupted load keeps the partial file and the next load resumes it', async () => {
    const cache = freshCache();
    hub.cutNext(BIG_FILE, 70_000);
    const failure = await rejection<Error>(loadPackFiles(source(), cache, { retries: 0 }));
    expect(failure).toBeInstanceOf(Error);
    expect(failure.message).toMatch(/unet\/down.onnx.data: download interrupted 1 times .*next load resumes/);
    const partialPath = join(cache.root, 'blobs', `${pack.manifest.files[BIG_FILE].sha256}.partial`);
    const kept = statSync(partialPath).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(70_000);

    hub.clearLog();
    const events: LoadProgress[] = [];
    const files = await loadPackFiles(source(), cache, { onProgress: (p) => events.push(p), progressIntervalMs: 0 });
    const cdn = hub.requestsFor(BIG_FILE).filter((e) => e.kind === 'cdn');
    expect(cdn.map((e) => e.range)).toEqual([`bytes=${kept}-`]);
    expect(events.find((e) => e.file === BIG_FILE)?.bytesDone).toBe(kept); // progress starts where the partial ends
    expect(await files.bytes(BIG_FILE)).toEqual(pack.files.get(BIG_FILE));
    expect(existsSync(partialPath)).toBe(false);
  });

  test('a server that ignores Range still yields a verified file (the prefix is skipped)', async () => {
    const cache = freshCache();
    hub.cutNext(BIG_FILE, 50_000);
    hub.ignoreRange = true;
    const files = await loadPackFiles(source(), cache);
    const cdn = hub.requestsFor(BIG_FILE).filter((e) => e.kind === 'cdn');
    expect(cdn.map((e) => e.status)).toEqual([200, 200]);
    expect(cdn[1].range).toMatch(/^bytes=\d+-$/);
    expect(await files.bytes(BIG_FILE)).toEqual(pack.files.get(BIG_FILE));
  });

  test('aborting keeps the partial download; a later load resumes it', async () => {
    const cache = freshCache();
    const controller = new AbortController();
    hub.cutNext(BIG_FILE, 120_000); // makes sure the abort lands mid-file
    const run = loadPackFiles(source(), cache, {
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.file === BIG_FILE && p.bytesDone > 0) controller.abort(new DOMException('user cancelled', 'AbortError'));
      },
    });
    await expect(run).rejects.toThrow(/user cancelled/);
    const partial = join(cache.root, 'blobs', `${pack.manifest.files[BIG_FILE].sha256}.partial`);
    expect(statSync(partial).size).toBeGreaterThan(0);
    hub.clearLog();
    await loadPackFiles(source(), cache);
    expect(hub.requestsFor(BIG_FILE).find((e) => e.kind === 'cdn')?.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  test.each(['404-html', '200-html', '200-html-octet-stream'] as const)('a missing file answered with %s is "file not found: <path>"', async (style) => {
    hub.missingStyle = style;
    hub.setFile(REPO, 'unet/up.onnx', null);
    const error = await rejection<Error>(loadPackFiles(source(), freshCache()));
    expect(error).toBeInstanceOf(FileNotFoundError);
    expect(error.message).toContain(`file not found: unet/up.onnx (${hub.endpoint}/${REPO}/resolve/main/unet/up.onnx`);
    expect(hub.requestsFor('unet/up.onnx')).toHaveLength(1); // no retries for a missing file
  });

  test('a missing manifest is "file not found: manifest.json"', async () => {
    const error = await rejection<Error>(loadPackFiles(new HubSource({ repo: 'nobody/nothing', endpoint: hub.endpoint }), freshCache()));
    expect(error).toBeInstanceOf(FileNotFoundError);
    expect(error.message).toMatch(/^file not found: manifest.json \(.*nobody\/nothing\/resolve\/main\/manifest.json: HTTP 404\)$/);
  });

  test('a wrong sha256 in the manifest is an error naming the file and both hashes, and nothing is kept', async () => {
    const manifest = structuredClone(pack.manifest);
    const wrong = 'f'.repeat(64);
    manifest.files['unet/up.onnx'] = { sha256: wrong, bytes: pack.files.get('unet/up.onnx')!.length };
    hub.setFile(REPO, 'manifest.json', new TextEncoder().encode(serializeManifest(manifest)));
    const cache = freshCache();
    const error = await rejection<IntegrityError>(loadPackFiles(source(), cache));
    expect(error).toBeInstanceOf(IntegrityError);
    const actual = sha256Node(pack.files.get('unet/up.onnx')!);
    expect(error.message).toBe(`unet/up.onnx: sha256 mismatch: expected ${wrong}, got ${actual} (4321 bytes); the download was discarded`);
    expect(await cache.has(wrong)).toBe(false);
    expect(existsSync(join(cache.root, 'blobs', `${wrong}.partial`))).toBe(false);
  });

  test('a wrong size in the manifest is refused before downloading', async () => {
    const manifest = structuredClone(pack.manifest);
    manifest.files[BIG_FILE].bytes -= 1;
    hub.setFile(REPO, 'manifest.json', new TextEncoder().encode(serializeManifest(manifest)));
    const cache = freshCache();
    const error = await rejection<IntegrityError>(loadPackFiles(source(), cache));
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error.message).toMatch(/^unet\/down.onnx.data \(.*\/cdn\/.*\): expected 299999 bytes, got 300000/);
    expect(existsSync(join(cache.root, 'blobs', `${manifest.files[BIG_FILE].sha256}.partial`))).toBe(false);
  });

  test('a broken manifest is a FormatError naming manifest.json and the field', async () => {
    hub.setFile(REPO, 'manifest.json', new TextEncoder().encode(pack.manifestText.replace('"tiny-sd15"', '"sdxl"')));
    const error = await rejection<FormatError>(loadPackFiles(source(), freshCache()));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.file).toBe(`manifest.json (hub 127.0.0.1:${new URL(hub.endpoint).port}/${REPO}@main)`);
    expect(error.field).toBe('family');
  });

  test('offline without a cached manifest says so; offline with a missing file names it', async () => {
    const cache = new MemoryBlobCache();
    await expect(loadPackFiles(source(), cache, { offline: true })).rejects.toThrow(/offline: no manifest of hub .* load it once online/);
    await loadPackFiles(source(), cache, { paths: ['unet/up.onnx'] });
    hub.clearLog();
    await expect(loadPackFiles(source(), cache, { offline: true })).rejects.toThrow(/offline: [a-z_]+\/[a-z_.]+ \(sha256 [0-9a-f]{64}\) is not in memory cache/);
    expect(hub.log).toEqual([]);
  });

  test('files left out of `paths` are fetched on first read', async () => {
    const cache = new MemoryBlobCache();
    const files = await loadPackFiles(source(), cache, { paths: ['unet/up.onnx'] });
    expect(fileRequests().map((e) => e.path)).toEqual(['unet/up.onnx', 'unet/up.onnx']);
    expect(await files.bytes('vae_decoder/model.onnx')).toEqual(pack.files.get('vae_decoder/model.onnx'));
    expect(() => files.entry('nope.onnx')).toThrow(/not a file of this pack/);
  });

  test('a token is sent; without it a private repo is an access error', async () => {
    hub.token = 'secret-token';
    await expect(loadPackFiles(source(), freshCache())).rejects.toThrow(/HTTP 401: the repo is private or gated, or does not exist; a token may be needed/);
    const files = await loadPackFiles(new HubSource({ repo: REPO, endpoint: hub.endpoint, token: 'secret-token' }), new MemoryBlobCache());
    expect(await files.bytes(BIG_FILE)).toEqual(pack.files.get(BIG_FILE));
  });
});

describe('loadPackFiles from a local folder', () => {
  test('loads and verifies; a missing file is "file not found: <path>"', async () => {
    const folder = join(tempRoot, 'folder-pack');
    for (const [path, data] of [...pack.files, ['manifest.json', new TextEncoder().encode(pack.manifestText)] as const]) {
      await mkdir(dirname(join(folder, path)), { recursive: true });
      await writeFile(join(folder, path), data);
    }
    const folderSource = new NodeFolderSource(folder);
    expect(await folderSource.list()).toEqual([...pack.files.keys(), 'manifest.json'].sort());
    const files = await loadPackFiles(folderSource, new MemoryBlobCache());
    expect(await files.bytes(BIG_FILE)).toEqual(pack.files.get(BIG_FILE));

    await rm(join(folder, 'unet/up.onnx'));
    await expect(loadPackFiles(folderSource, new MemoryBlobCache())).rejects.toThrow(`file not found: unet/up.onnx (${join(folder, 'unet/up.onnx')})`);
  });
});
