import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { IntegrityError, type BlobCache } from '../../src/model/cache/blob-cache.ts';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';
import { defaultNodeCacheDir, NodeDirBlobCache } from '../../src/model/cache/node-dir.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { rejection } from './rejection.ts';
import { randomBytes, sha256Node } from './tiny-pack.ts';

let tempRoot: string;
let count = 0;
beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), 'lethe-cache-'));
});
afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});

function streamOf(data: Uint8Array, chunk = 1000): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(data.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const kinds: [string, () => BlobCache][] = [
  ['NodeDirBlobCache', () => new NodeDirBlobCache(join(tempRoot, `c${count++}`))],
  ['MemoryBlobCache', () => new MemoryBlobCache()],
];

describe.each(kinds)('%s', (_name, make) => {
  const rng = new SeededRandom(5);
  const a = randomBytes(rng, 10_000);
  const b = randomBytes(rng, 777);
  const empty = new Uint8Array(0);
  const shaA = sha256Node(a);
  const shaB = sha256Node(b);

  test('put / get / has / sizeOf / list / sizeBytes / delete / clear', async () => {
    const cache = make();
    expect(await cache.has(shaA)).toBe(false);
    expect(await cache.get(shaA)).toBe(null);
    await cache.put(shaA, streamOf(a), { expectedBytes: a.length });
    await cache.put(shaB, streamOf(b, 100));
    await cache.put(sha256Node(empty), streamOf(empty));
    expect(await cache.has(shaA)).toBe(true);
    expect(await cache.sizeOf(shaB)).toBe(777);
    const blob = await cache.get(shaA);
    expect(blob?.size).toBe(a.length);
    expect(await blob!.bytes()).toEqual(a);
    expect(await readAll(blob!.stream())).toEqual(a);
    expect(await cache.list()).toEqual(
      [{ sha256: shaA, bytes: a.length }, { sha256: shaB, bytes: 777 }, { sha256: sha256Node(empty), bytes: 0 }].sort((x, y) => x.sha256.localeCompare(y.sha256)),
    );
    expect(await cache.sizeBytes()).toBe(a.length + b.length);
    await cache.delete(shaB);
    expect(await cache.has(shaB)).toBe(false);
    await cache.clear();
    expect(await cache.list()).toEqual([]);
    expect(await cache.sizeBytes()).toBe(0);
  });

  test('put refuses bytes that do not hash to the key, and keeps nothing', async () => {
    const cache = make();
    const error = await rejection<IntegrityError>(cache.put(shaA, streamOf(b), { label: 'unet/x.onnx' }));
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error.message).toBe(`unet/x.onnx: sha256 mismatch: expected ${shaA}, got ${shaB} (777 bytes); the download was discarded`);
    expect(await cache.has(shaA)).toBe(false);
    expect(await cache.sizeBytes()).toBe(0);
  });

  test('a writer stops at the first byte beyond expectedBytes', async () => {
    const cache = make();
    const writer = await cache.openWriter(shaA, { expectedBytes: 5000 });
    await writer.write(a.subarray(0, 4000));
    await expect(writer.write(a.subarray(4000, 6000))).rejects.toThrow(`${shaA}: expected 5000 bytes, got 6000 or more; the download was discarded`);
    expect(await cache.sizeBytes()).toBe(0);
  });

  test('an interrupted write resumes from its partial data; resume: false starts over', async () => {
    const cache = make();
    const first = await cache.openWriter(shaA, { expectedBytes: a.length });
    expect(first.offset).toBe(0);
    await first.write(a.subarray(0, 3333));
    await first.close(); // keeps the partial
    expect(await cache.has(shaA)).toBe(false);
    expect(await cache.sizeBytes()).toBe(3333);

    const second = await cache.openWriter(shaA, { expectedBytes: a.length });
    expect(second.offset).toBe(3333);
    await second.write(a.subarray(3333, 5000));
    await second.close();

    const fresh = await cache.openWriter(shaA, { resume: false });
    expect(fresh.offset).toBe(0);
    await fresh.close();

    const third = await cache.openWriter(shaA, { expectedBytes: a.length });
    expect(third.offset).toBe(0);
    await third.write(a.subarray(0, 1234));
    await third.close();
    const fourth = await cache.openWriter(shaA, { expectedBytes: a.length });
    expect(fourth.offset).toBe(1234);
    await fourth.write(a.subarray(1234));
    expect(fourth.bytesWritten).toBe(a.length);
    await fourth.commit();
    expect(await (await cache.get(shaA))!.bytes()).toEqual(a);
    expect(await cache.sizeBytes()).toBe(a.length); // the partial is gone
  });

  test('a resumed partial whose prefix is wrong fails the hash at commit and is discarded', async () => {
    const cache = make();
    const first = await cache.openWriter(shaA);
    await first.write(b.subarray(0, 500)); // not a prefix of a
    await first.close();
    const second = await cache.openWriter(shaA, { expectedBytes: a.length });
    await second.write(a.subarray(500));
    await expect(second.commit()).rejects.toBeInstanceOf(IntegrityError);
    expect(await cache.sizeBytes()).toBe(0);
    expect((await cache.openWriter(shaA)).offset).toBe(0);
  });

  test('a partial longer than expectedBytes is dropped', async () => {
    const cache = make();
    const first = await cache.openWriter(shaB);
    await first.write(a.subarray(0, 1000));
    await first.close();
    const second = await cache.openWriter(shaB, { expectedBytes: b.length });
    expect(second.offset).toBe(0);
    await second.write(b);
    await second.commit();
    expect(await cache.sizeOf(shaB)).toBe(b.length);
  });

  test('one writer per blob at a time; misuse and bad keys are refused', async () => {
    const cache = make();
    const writer = await cache.openWriter(shaA);
    await expect(cache.openWriter(shaA)).rejects.toThrow(/already being written/);
    await writer.close({ keep: false });
    await expect(writer.write(a)).rejects.toThrow(/after the writer was closed/);
    await (await cache.openWriter(shaA)).close();
    await expect(cache.has('A'.repeat(64))).rejects.toThrow(RangeError);
    await expect(cache.get('../etc/passwd')).rejects.toThrow(/64 lowercase hex/);
  });

  test('refs', async () => {
    const cache = make();
    expect(await cache.readRef('manifest:hub:x@main')).toBe(null);
    await cache.writeRef('manifest:hub:x@main', shaA);
    await cache.writeRef('manifest:hub:x@main', shaB);
    expect(await cache.readRef('manifest:hub:x@main')).toBe(shaB);
    expect(await cache.readRef('manifest:hub:y@main')).toBe(null);
    await expect(cache.writeRef('x', 'nope')).rejects.toThrow(RangeError);
  });
});

describe('NodeDirBlobCache specifics', () => {
  test('default folder: $LETHE_CACHE_DIR, else ~/.cache/lethe', () => {
    const saved = process.env.LETHE_CACHE_DIR;
    try {
      process.env.LETHE_CACHE_DIR = '/tmp/lethe-elsewhere';
      expect(defaultNodeCacheDir()).toBe('/tmp/lethe-elsewhere');
      expect(new NodeDirBlobCache().root).toBe('/tmp/lethe-elsewhere');
      delete process.env.LETHE_CACHE_DIR;
      expect(defaultNodeCacheDir()).toBe(join(homedir(), '.cache', 'lethe'));
    } finally {
      if (saved === undefined) delete process.env.LETHE_CACHE_DIR;
      else process.env.LETHE_CACHE_DIR = saved;
    }
  });

  test('layout on disk; a damaged ref file reads as no ref', async () => {
    const cache = new NodeDirBlobCache(join(tempRoot, 'layout'));
    const data = new TextEncoder().encode('hello');
    const sha = sha256Node(data);
    const writer = await cache.openWriter(sha);
    await writer.write(data.subarray(0, 2));
    await writer.close();
    expect(existsSync(join(cache.root, 'blobs', `${sha}.partial`))).toBe(true);
    expect(await cache.list()).toEqual([]); // partials are not blobs
    const resumed = await cache.openWriter(sha);
    await resumed.write(data.subarray(2));
    await resumed.commit();
    expect(existsSync(join(cache.root, 'blobs', sha))).toBe(true);
    expect(existsSync(join(cache.root, 'blobs', `${sha}.partial`))).toBe(false);

    await cache.writeRef('some ref / with odd:chars', sha);
    expect(await cache.readRef('some ref / with odd:chars')).toBe(sha);
    const refFile = join(cache.root, 'refs', `${sha256Node(new TextEncoder().encode('some ref / with odd:chars'))}.json`);
    await writeFile(refFile, '{"name": "other", "sha256": "' + sha + '"}');
    expect(await cache.readRef('some ref / with odd:chars')).toBe(null);
    await writeFile(refFile, 'not json');
    expect(await cache.readRef('some ref / with odd:chars')).toBe(null);
  });
});
