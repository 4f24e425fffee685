/**
 * Bundled by opfs-cache.e2e.test.ts and run in Chromium twice: in a dedicated worker (where the
 * cache writes in place through a sync access handle) and on the page (createWritable). Both
 * must resume an interrupted write, store the exact bytes and discard a blob with the wrong hash.
 */
import { IntegrityError } from '../../../src/model/cache/blob-cache.ts';
import { OpfsBlobCache } from '../../../src/model/cache/opfs.ts';
import { sha256HexSync } from '../../../src/util/sha256.ts';

export interface OpfsScenarioResult {
  inPlace: boolean;
  interruptedAt: number;
  resumedOffset: number;
  storedBytes: number;
  sameBytes: boolean;
  integrityError: string | null;
  badBlobKept: boolean;
  cacheBytes: number;
}

const CHUNK = 64 * 1024;

async function writeRange(writer: { write(chunk: Uint8Array): Promise<void> }, bytes: Uint8Array, from: number, to: number): Promise<void> {
  for (let offset = from; offset < to; offset += CHUNK) await writer.write(bytes.slice(offset, Math.min(offset + CHUNK, to)));
}

export async function runOpfsScenario(folder: string): Promise<OpfsScenarioResult> {
  const bytes = new Uint8Array(3 * 1024 * 1024 + 17);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.imul(i + 1, 2654435761) >>> 24;
  const sha256 = sha256HexSync(bytes);
  const cache = await OpfsBlobCache.open(folder);

  const interruptedAt = 1024 * 1024 + 5;
  const first = await cache.openWriter(sha256, { expectedBytes: bytes.length, label: 'unet/down.onnx.data' });
  await writeRange(first, bytes, 0, interruptedAt);
  await first.close();

  const second = await cache.openWriter(sha256, { expectedBytes: bytes.length, label: 'unet/down.onnx.data' });
  const resumedOffset = second.offset;
  await writeRange(second, bytes, resumedOffset, bytes.length);
  await second.commit();
  const stored = await (await cache.get(sha256))!.bytes();

  const other = bytes.slice(0, 1000);
  const otherSha = sha256HexSync(other);
  other[500] ^= 1;
  const bad = await cache.openWriter(otherSha, { expectedBytes: other.length, label: 'vae_decoder/model.onnx' });
  await writeRange(bad, other, 0, other.length);
  let integrityError: string | null = null;
  try {
    await bad.commit();
  } catch (error) {
    integrityError = error instanceof IntegrityError ? error.message : `not an IntegrityError: ${String(error)}`;
  }
  return {
    inPlace: typeof (FileSystemFileHandle.prototype as { createSyncAccessHandle?: unknown }).createSyncAccessHandle === 'function',
    interruptedAt,
    resumedOffset,
    storedBytes: stored.length,
    sameBytes: stored.length === bytes.length && stored.every((value, i) => value === bytes[i]),
    integrityError,
    badBlobKept: await cache.has(otherSha),
    cacheBytes: await cache.sizeBytes(),
  };
}

const scope = globalThis as unknown as { WorkerGlobalScope?: unknown; onmessage: unknown; postMessage(message: unknown): void; runOpfsScenario?: unknown };
if (scope.WorkerGlobalScope !== undefined) {
  scope.onmessage = async (event: MessageEvent<string>) => {
    try {
      scope.postMessage({ result: await runOpfsScenario(event.data) });
    } catch (error) {
      scope.postMessage({ error: String((error as Error).stack ?? error) });
    }
  };
} else {
  scope.runOpfsScenario = runOpfsScenario;
}
