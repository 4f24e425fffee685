import { describe, expect, test } from 'vitest';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';
import { loadPackFiles } from '../../src/model/loader.ts';
import { MemoryPackSource } from '../../src/model/memory-source.ts';
import { FileNotFoundError } from '../../src/model/sources/errors.ts';
import { readBytes } from '../../src/model/sources/read.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { rejection } from './rejection.ts';
import { BIG_FILE, makeTinyPack, randomBytes } from './tiny-pack.ts';

async function chunksOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return chunks;
}

function joined(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

describe('MemoryPackSource', () => {
  const data = randomBytes(new SeededRandom(5), 700_001);
  const source = () => new MemoryPackSource(new Map([['unet/down.onnx.data', data], ['manifest.json', new Uint8Array([123, 125])]]), { name: 'demo', id: 'demo:x' });

  test('streams a file in several chunks, from any offset, with its whole size', async () => {
    const whole = await source().open('unet/down.onnx.data');
    expect(whole.size).toBe(data.length);
    expect(whole.location).toBe('memory demo/unet/down.onnx.data');
    const chunks = await chunksOf(whole.stream);
    expect(chunks.length).toBeGreaterThan(1);
    expect(joined(chunks)).toEqual(data);

    for (const offset of [1, 262_144, 262_145, data.length - 1, data.length]) {
      const part = await source().open('unet/down.onnx.data', { offset });
      expect(part.size).toBe(data.length);
      expect(joined(await chunksOf(part.stream))).toEqual(data.subarray(offset));
    }
  });

  test('chunks are copies: writing into one does not change the pack', async () => {
    const pack = source();
    const [first] = await chunksOf((await pack.open('unet/down.onnx.data')).stream);
    const before = data[0];
    first[0] = before ^ 0xff;
    expect(data[0]).toBe(before);
    expect((await readBytes(pack, 'unet/down.onnx.data'))[0]).toBe(before);
  });

  test('missing files, bad paths, bad offsets and aborted signals are refused', async () => {
    const missing = await rejection<FileNotFoundError>(source().open('unet/up.onnx'));
    expect(missing).toBeInstanceOf(FileNotFoundError);
    expect(missing.path).toBe('unet/up.onnx');
    expect(missing.message).toMatch(/^file not found: unet\/up\.onnx \(memory demo\/unet\/up\.onnx\)/);
    expect((await rejection(source().open('../manifest.json'))).message).toMatch(/must stay inside the pack folder/);
    expect((await rejection(source().open('manifest.json', { offset: -1 }))).message).toMatch(/non-negative integer/);
    expect(() => new MemoryPackSource(new Map([['/etc/passwd', data]]))).toThrow(/absolute/);
    const controller = new AbortController();
    controller.abort();
    expect((await rejection(source().open('manifest.json', { signal: controller.signal }))).name).toBe('AbortError');
  });

  test('identity and listing', async () => {
    const pack = source();
    expect(pack.id).toBe('demo:x');
    expect(pack.description).toBe('memory demo');
    expect(await pack.list()).toEqual(['manifest.json', 'unet/down.onnx.data']);
    expect(new MemoryPackSource([]).id).toBe('memory:pack');
  });

  test('read as an ExportSource: views into the held bytes, sizes, and the export\'s missing-file error', async () => {
    const pack = source();
    expect(await pack.read('unet/down.onnx.data')).toBe(data);
    const range = await pack.readRange('unet/down.onnx.data', 262_144, 1000);
    expect(range.buffer).toBe(data.buffer);
    expect(range).toEqual(data.subarray(262_144, 263_144));
    expect(await pack.size('unet/down.onnx.data')).toBe(data.length);
    expect(await pack.size('unet/up.onnx')).toBeUndefined();
    expect((await rejection(pack.read('unet/up.onnx'))).message).toMatch(/unet\/up\.onnx.*no such file in the export/);
    expect((await rejection(pack.readRange('unet/up.onnx', 0, 1))).message).toMatch(/no such file in the export/);
  });

  test('loadPackFiles loads a whole pack from it, reporting progress inside the big file', async () => {
    const pack = makeTinyPack(3);
    const source = new MemoryPackSource(new Map([...pack.files, ['manifest.json', new TextEncoder().encode(pack.manifestText)]]));
    const cache = new MemoryBlobCache();
    const midFile: number[] = [];
    const files = await loadPackFiles(source, cache, {
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.file === BIG_FILE && p.bytesDone > 0 && p.bytesDone < p.bytesTotal) midFile.push(p.bytesDone);
      },
    });
    expect(files.manifest).toEqual(pack.manifest);
    expect(midFile.length).toBeGreaterThan(0);
    for (const [path, bytes] of pack.files) expect(await files.bytes(path)).toEqual(bytes);
  });
});
