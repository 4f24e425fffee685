import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';
import { StorageFullError } from '../../src/model/cache/storage-full.ts';
import { assertGenerationFits, assertPackFits, checkPackFit, PackDoesNotFitError, type FitAdapter } from '../../src/model/fit-check.ts';
import { loadPackFiles } from '../../src/model/loader.ts';
import { parseManifest, serializeManifest, type PackManifest } from '../../src/model/manifest.ts';
import { HubSource } from '../../src/model/sources/hub.ts';
import { HubServer } from '../support/hub-server.ts';
import { rejection } from './rejection.ts';
import { BIG_FILE, makeTinyPack, type TinyPack } from './tiny-pack.ts';

const GIB = 2 ** 30;

/** The error a function throws; fails if it returns. */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}
const MIB = 2 ** 20;
/** What Chromium's and Dawn's SwiftShader adapters report. */
const SWIFTSHADER: FitAdapter = { maxBufferSize: GIB, maxStorageBufferBindingSize: GIB, shaderF16: false, software: true };

/**
 * A manifest with SD's dims and attention heads (the files are the tiny pack's: the buffer
 * estimates read dims and heads, the storage check reads file sizes).
 */
function sdManifest(family: 'sd15' | 'sd21', dtype: 'fp32' | 'fp16' = 'fp32'): PackManifest {
  const { manifest } = makeTinyPack(3, 1000);
  const heads = family === 'sd15' ? [8, 8] : [5, 10];
  return {
    ...manifest,
    family,
    dtype,
    dims: {
      ...manifest.dims,
      textHidden: family === 'sd15' ? 768 : 1024,
      unetChannels: [320, 640, 1280, 1280],
      vaeScale: 8,
      sampleSize: family === 'sd15' ? 64 : 96,
    },
    crossAttention: manifest.crossAttention.map((layer, i) => ({
      ...layer,
      heads: heads[i],
      module: i === 0 ? 'down_blocks.0.attentions.0.transformer_blocks.0.attn2' : 'up_blocks.2.attentions.1.transformer_blocks.0.attn2',
    })),
  };
}

describe('buffer sizes before loading', () => {
  test("SD 1.5 at 512x512 with guidance: the largest buffer is the first self-attention, 2 x 8 heads x 4096^2 fp32 = exactly 1 GiB, which a 1 GiB adapter validates but cannot allocate", () => {
    const report = checkPackFit({ manifest: sdManifest('sd15'), adapter: SWIFTSHADER, storage: null });
    expect([report.width, report.height, report.batch]).toEqual([512, 512, 2]);
    expect(report.largestActivation.bytes).toBe(2 * 8 * 4096 * 4096 * 4);
    expect(report.largestActivation.bytes).toBe(GIB);
    expect(report.largestActivation.what).toMatch(/down_blocks\.0: 2 x 8 heads x 4096 x 4096 fp32/);
    // Measured in Chromium on SwiftShader: a 2^30-byte buffer fails with VK_ERROR_OUT_OF_DEVICE_MEMORY, 2^30 - 256 allocates.
    // It loads, with a note; 448 (56x56 latents) is the largest 64-multiple that generates.
    expect(report.fits).toBe(true);
    expect(report.largestFittingSide).toBe(448);
    expect(report.notes).toHaveLength(1);
    expect(report.notes[0]).toMatch(/At 512x512 the largest GPU buffer is 1 GiB .*, at this adapter's 1 GiB, and a buffer within 64 KiB of it can fail to allocate .*: generate at 448x448 or smaller/);
    const error = thrown(() => assertGenerationFits(sdManifest('sd15'), SWIFTSHADER, 512, 512, 2));
    expect(error).toBeInstanceOf(PackDoesNotFitError);
    expect(error.message).toMatch(/is 1 GiB \(UNet self-attention scores in down_blocks\.0.*\); this adapter's maxBufferSize is 1 GiB, and a buffer within 64 KiB of it can fail to allocate/);
    expect(error.message).toMatch(/Generate at 448x448 or smaller/);
    expect(() => assertGenerationFits(sdManifest('sd15'), SWIFTSHADER, 448, 448, 2)).not.toThrow();
    // An adapter with room to spare above 1 GiB holds it.
    const roomy = checkPackFit({ manifest: sdManifest('sd15'), adapter: { ...SWIFTSHADER, maxBufferSize: 2 * GIB, maxStorageBufferBindingSize: 2 * GIB }, storage: null });
    expect(roomy.notes).toEqual([]);
    expect(roomy.largestFittingSide).toBeGreaterThanOrEqual(512);
  });

  test('SD 2.1 at its native 768x768: 2 x 5 heads x 9216^2 fp32 = 3.2 GiB; it loads with a note, and generating at 768 fails first with the size that fits', () => {
    const manifest = sdManifest('sd21');
    const load = checkPackFit({ manifest, adapter: SWIFTSHADER, storage: null });
    expect(load.largestActivation.bytes).toBe(2 * 5 * 9216 * 9216 * 4);
    expect(load.largestActivation.bytes).toBe(3_397_386_240);
    // 576 px = 72^2 = 5184 tokens needs 1.075e9 > 2^30 bytes; 512 px (4096 tokens) needs 0.67e9.
    expect(load.largestFittingSide).toBe(512);
    expect(load.fits).toBe(true);
    expect(load.notes).toHaveLength(1);
    expect(load.notes[0]).toMatch(/At 768x768 the largest GPU buffer is 3\.2 GiB .* over this adapter's 1 GiB: generate at 512x512 or smaller/);

    const error = thrown(() => assertGenerationFits(manifest, SWIFTSHADER, 768, 768, 2));
    expect(error).toBeInstanceOf(PackDoesNotFitError);
    expect(error.message).toMatch(
      /^Generating at 768x768 does not fit here \(nothing was run\)\. The largest GPU buffer this pack needs at 768x768 is 3\.2 GiB/,
    );
    expect(error.message).toMatch(/maxBufferSize is 1 GiB/);
    expect(error.message).toMatch(/Generate at 512x512 or smaller/);
    // Without guidance the batch halves: 640 px (80^2 = 6400 tokens, 5 x 6400^2 x 4 = 0.82e9 bytes) fits, 704 does not.
    expect(error.message).toMatch(/Or set guidance to 1 \(a batch of 1\): then up to 640x640 fits/);
    expect(() => assertGenerationFits(manifest, SWIFTSHADER, 640, 640, 1)).not.toThrow();
    expect(() => assertGenerationFits(manifest, SWIFTSHADER, 704, 704, 1)).toThrow(PackDoesNotFitError);
    expect(() => assertGenerationFits(manifest, SWIFTSHADER, 512, 512, 2)).not.toThrow();
  });

  test('the smaller of maxBufferSize and maxStorageBufferBindingSize is the limit, named in the message', () => {
    const adapter = { ...SWIFTSHADER, maxBufferSize: 4 * GIB, maxStorageBufferBindingSize: 128 * MIB };
    const error = thrown(() => assertGenerationFits(sdManifest('sd15'), adapter, 512, 512, 2));
    expect(error.message).toMatch(/maxStorageBufferBindingSize is 128 MiB/);
  });

  test('a pack whose weights alone exceed maxBufferSize cannot run at any size: blocked at load, saying so', () => {
    const { manifest } = makeTinyPack(3, 300_000);
    const error = thrown(() => assertPackFits({ manifest, adapter: { ...SWIFTSHADER, maxBufferSize: 64 * 1024 }, storage: null }));
    expect(error).toBeInstanceOf(PackDoesNotFitError);
    const report = (error as PackDoesNotFitError).report;
    expect(report.largestFittingSide).toBe(0);
    expect(report.problems.map((p) => p.kind)).toEqual(['buffer']);
    expect(error.message).toMatch(/^This tiny-sd15 fp32 pack \(\d+ KiB\) does not fit here \(nothing was downloaded\)\./);
    expect(error.message).toMatch(/maxBufferSize is 64 KiB/);
    expect(error.message).toMatch(/no image size helps/);
  });

  test('an fp16 pack needs shader-f16 on the GPU (onnxruntime-web), not on the CPU (onnxruntime-node)', () => {
    const manifest = sdManifest('sd15', 'fp16');
    const without = checkPackFit({ manifest, adapter: SWIFTSHADER, storage: null });
    expect(without.problems.map((p) => p.kind)).toEqual(['shader-f16']);
    expect(without.problems[0].advice.join(' ')).toMatch(/fp32 pack/);
    // fp16 halves every buffer: the 512x512 scores are 512 MiB.
    expect(without.largestActivation.bytes).toBe(GIB / 2);
    expect(checkPackFit({ manifest, adapter: { ...SWIFTSHADER, shaderF16: true }, storage: null }).fits).toBe(true);
    expect(checkPackFit({ manifest, adapter: null, storage: null }).fits).toBe(true);
  });

  test('the total estimate counts every graph with its external data and the cross-attention weights', () => {
    const { manifest } = makeTinyPack(3, 300_000);
    const report = checkPackFit({ manifest, adapter: SWIFTSHADER, storage: null });
    const graphs = ['text_encoder/model.onnx', 'unet/down.onnx', BIG_FILE, 'unet/up.onnx', 'vae_decoder/model.onnx', 'unet/cross_attention.safetensors'];
    expect(report.weightBytes).toBe(graphs.reduce((sum, path) => sum + manifest.files[path].bytes, 0));
    expect(report.largestSessionBytes).toBe(manifest.files['unet/down.onnx'].bytes + manifest.files[BIG_FILE].bytes);
    expect(report.totalGpuBytes).toBe(report.weightBytes + report.activationBytes);
    expect(report.activationBytes).toBeGreaterThan(report.largestActivation.bytes);
  });
});

describe('storage before downloading', () => {
  test('the files the cache lacks are compared with quota minus usage; cached files cost nothing', () => {
    const { manifest } = makeTinyPack(3, 300_000);
    const total = Object.values(manifest.files).reduce((sum, entry) => sum + entry.bytes, 0);
    const storage = { quotaBytes: 1_000_000, usageBytes: 1_000_000 - 100_000 };
    const report = checkPackFit({ manifest, adapter: SWIFTSHADER, storage });
    expect(report.downloadBytes).toBe(total);
    expect(report.problems.map((p) => p.kind)).toEqual(['storage']);
    expect(report.problems[0].message).toMatch(/needs 309 KiB more browser storage; this site may use 98 KiB more \(quota 977 KiB, 879 KiB used\)/);
    expect(report.problems[0].advice[0]).toMatch(/Free at least 211 KiB/);
    const cached = new Set([manifest.files[BIG_FILE].sha256]);
    expect(checkPackFit({ manifest, adapter: SWIFTSHADER, storage, cached }).downloadBytes).toBe(total - 300_000);
    expect(checkPackFit({ manifest, adapter: SWIFTSHADER, storage, cached }).fits).toBe(true);
  });
});

describe('through the loader, with a hub-style server', () => {
  const REPO = 'lethe-test/fit';
  let hub: HubServer;
  let first: TinyPack;
  let second: TinyPack;
  beforeAll(async () => {
    hub = await HubServer.start();
    first = makeTinyPack(21, 200_000);
    second = makeTinyPack(22, 300_000);
  });
  afterAll(async () => hub?.close());
  const serve = (pack: TinyPack) => hub.setRepo(REPO, new Map([...pack.files, ['manifest.json', new TextEncoder().encode(pack.manifestText)]]));
  const source = () => new HubSource({ repo: REPO, endpoint: hub.endpoint });
  const packBytes = (pack: TinyPack) => Object.values(pack.manifest.files).reduce((sum, entry) => sum + entry.bytes, 0);

  test('a deliberately low quota stops the load before any file is requested, with the space needed; the cached pack is untouched', async () => {
    const cache = new MemoryBlobCache();
    serve(first);
    await loadPackFiles(source(), cache);
    const before = await cache.list();
    serve(second);
    hub.clearLog();
    const quotaBytes = (await cache.sizeBytes()) + 100_000;
    const error = await rejection(
      loadPackFiles(source(), cache, {
        beforeDownload: async (manifest, cached) =>
          void assertPackFits({ manifest, adapter: SWIFTSHADER, storage: { quotaBytes, usageBytes: await cache.sizeBytes() }, cached }),
      }),
    );
    expect(error).toBeInstanceOf(PackDoesNotFitError);
    expect(error.message).toMatch(/nothing was downloaded/);
    expect(error.message).toMatch(/needs 309 KiB more browser storage/);
    expect(hub.log.map((entry) => entry.path)).toEqual(['manifest.json']);
    // Nothing lost: every blob of the first pack is still there (the second's manifest.json was added).
    const after = await cache.list();
    for (const blob of before) expect(after).toContainEqual(blob);
    expect(after.length).toBe(before.length + 1);
  });

  test("a pack larger than the adapter's maxBufferSize stops the load before any file is requested; the cached pack is untouched", async () => {
    const cache = new MemoryBlobCache();
    serve(first);
    await loadPackFiles(source(), cache);
    const before = await cache.list();
    serve(second);
    hub.clearLog();
    const adapter = { ...SWIFTSHADER, maxBufferSize: 64 * 1024, maxStorageBufferBindingSize: 64 * 1024 };
    const error = await rejection(
      loadPackFiles(source(), cache, { beforeDownload: (manifest, cached) => void assertPackFits({ manifest, adapter, storage: null, cached }) }),
    );
    expect(error).toBeInstanceOf(PackDoesNotFitError);
    expect(error.message).toMatch(
      /^This tiny-sd15 fp32 pack \(309 KiB\) does not fit here \(nothing was downloaded\)\. The largest GPU buffer this pack needs at 16x16 is 128 KiB \(UNet self-attention scores in up_blocks\.1: 2 x 4 heads x 64 x 64 fp32\); this adapter's maxBufferSize is 64 KiB\. What to do: Its largest weight alone is 72 KiB/,
    );
    expect(hub.log.map((entry) => entry.path)).toEqual(['manifest.json']);
    const after = await cache.list();
    for (const blob of before) expect(after).toContainEqual(blob);
    expect(after.length).toBe(before.length + 1);
    // The first pack still loads from the cache alone.
    serve(first);
    hub.clearLog();
    await loadPackFiles(source(), cache);
    expect(hub.log.map((entry) => entry.path)).toEqual(['manifest.json']);
  });

  test('an fp16 pack on an adapter without shader-f16 stops at manifest.json with what to do', async () => {
    const cache = new MemoryBlobCache();
    const manifest = { ...second.manifest, dtype: 'fp16' as const };
    hub.setRepo(REPO, new Map([...second.files, ['manifest.json', new TextEncoder().encode(serializeManifest(manifest))]]));
    hub.clearLog();
    const error = await rejection(loadPackFiles(source(), cache, { beforeDownload: (m, cached) => void assertPackFits({ manifest: m, adapter: SWIFTSHADER, storage: null, cached }) }));
    expect(error.message).toMatch(/^This tiny-sd15 fp16 pack \(309 KiB\) does not fit here \(nothing was downloaded\)\. This is an fp16 pack and this GPU adapter lacks the shader-f16 feature/);
    expect(error.message).toMatch(/Load the fp32 pack of the same model/);
    expect(hub.log.map((entry) => entry.path)).toEqual(['manifest.json']);
    expect((await cache.list()).length).toBe(1);
  });

  test('a quota error mid-download keeps the verified files and the partial one, says how much more is needed, and the next load resumes', async () => {
    serve(second);
    const total = packBytes(second);
    // Room for everything before the big file in manifest order, and 100 000 of its 300 000 bytes.
    const cache = new MemoryBlobCache();
    // The loader fetches in the order of the served manifest.json.
    const order = Object.keys(parseManifest(second.manifestText, 'manifest.json').files);
    const beforeBig = order.slice(0, order.indexOf(BIG_FILE)).reduce((sum, path) => sum + second.manifest.files[path].bytes, 0);
    cache.quotaBytes = new TextEncoder().encode(second.manifestText).length + beforeBig + 100_000; // the manifest is a blob too
    const error = await rejection(loadPackFiles(source(), cache));
    expect(error).toBeInstanceOf(StorageFullError);
    const full = error as StorageFullError;
    expect(full.label).toBe(BIG_FILE);
    expect(full.keptBytes).toBeGreaterThan(0);
    expect(full.neededBytes).toBe(total - beforeBig - full.keptBytes);
    expect(error.message).toMatch(
      /^memory cache is full \(storage quota or disk\) while storing unet\/down\.onnx\.data after \d+ KiB; this pack needs \d+ KiB more\. Files already verified and the partial file are kept/,
    );
    // The files before the big one are complete and verified.
    for (const path of order.slice(0, order.indexOf(BIG_FILE)))
      expect(await cache.sizeOf(second.manifest.files[path].sha256)).toBe(second.manifest.files[path].bytes);

    hub.clearLog();
    cache.quotaBytes = undefined;
    await loadPackFiles(source(), cache);
    const cdn = hub.requestsFor(BIG_FILE).find((entry) => entry.kind === 'cdn');
    expect(cdn?.range).toBe(`bytes=${full.keptBytes}-`);
    // File bodies only (the 302 redirects to the CDN carry a short HTML body).
    const bodies = hub.log.filter((entry) => entry.path !== 'manifest.json' && (entry.status === 200 || entry.status === 206));
    const transferred = bodies.reduce((sum, entry) => sum + entry.bytesSent, 0);
    expect(transferred).toBe(total - beforeBig - full.keptBytes);
  });
});
