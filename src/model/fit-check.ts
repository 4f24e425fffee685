import { formatBytes } from '../gpu/device.ts';
import type { PackManifest, OnnxModelEntry } from './manifest.ts';

/**
 * Before a single weight is downloaded: does this pack fit this adapter and this browser's
 * storage? Everything is computed from manifest.json (file sizes, dims, attention heads) and the
 * adapter's limits, so a pack that cannot run fails in milliseconds with what to do, instead of
 * after gigabytes of download or deep inside onnxruntime with "buffer size exceeds the maximum".
 *
 * The activation sizes follow the graphs our packs hold (diffusers' ONNX export): attention
 * scores are materialized as one [batch x heads, tokens, tokens] tensor, so the UNet's first
 * self-attention (the most tokens) is the largest buffer of a generation; the VAE decoder's
 * largest tensor is its 256-channel upsample at full pixel size. These are estimates with the
 * shapes of SD 1.x/2.x; the real allocation is measured by the true-scale bench.
 */

/** The adapter facts the check needs (an AdapterReport has them all). */
export interface FitAdapter {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  shaderF16: boolean;
  /** Software adapters (SwiftShader) keep "GPU" memory in system RAM. */
  software?: boolean;
}

/**
 * A buffer of exactly maxBufferSize passes WebGPU's validation yet can fail to allocate: on
 * Chromium's SwiftShader (maxBufferSize 1 GiB) a 2^30-byte or 2^30-4-byte buffer fails with
 * VK_ERROR_OUT_OF_DEVICE_MEMORY while 2^30-256 bytes succeeds (Dawn pads the allocation past
 * the driver's allocation limit). SD 1.5's first self-attention scores at 512x512 with guidance
 * are exactly 1 GiB, so the check keeps this margin below the limit.
 */
export const BUFFER_HEADROOM_BYTES = 64 * 1024;

/** navigator.storage.estimate(), or null where the platform has no quota (Node, memory cache). */
export interface StorageFacts {
  quotaBytes: number;
  usageBytes: number;
}

export interface FitRequest {
  manifest: PackManifest;
  /** Null when the graphs do not run on a WebGPU device (onnxruntime-node on the CPU): only storage is checked. */
  adapter: FitAdapter | null;
  storage: StorageFacts | null;
  /** sha256 -> bytes already complete in the cache (those files cost no download). */
  cached?: ReadonlySet<string>;
  /** Image size to check (default: the pack's native size). */
  width?: number;
  height?: number;
  /** 2 with classifier-free guidance (the default), 1 without. */
  batch?: number;
  /**
   * 'load' (default): the buffers must fit at some image size (the weights always); a native size
   * that does not fit is a note, since smaller images still run. 'generate': at exactly this size.
   */
  mode?: 'load' | 'generate';
}

export type FitProblemKind = 'shader-f16' | 'buffer' | 'binding' | 'storage' | 'wasm-memory';

export interface FitProblem {
  kind: FitProblemKind;
  /** What does not fit, with the numbers. */
  message: string;
  /** What the user can do about it. */
  advice: string[];
}

export interface BufferNeed {
  bytes: number;
  /** What the buffer holds, e.g. "UNet self-attention scores (down_blocks.0, 2 x 8 heads x 4096 x 4096 fp32)". */
  what: string;
}

export interface FitReport {
  fits: boolean;
  problems: FitProblem[];
  /** What works with a restriction (e.g. the native size needs too large a buffer, smaller sizes fit). */
  notes: string[];
  width: number;
  height: number;
  batch: number;
  largestWeight: BufferNeed;
  largestActivation: BufferNeed;
  /** Weights on the GPU: every ONNX graph with its external data, and the cross-attention weights. */
  weightBytes: number;
  /** Rough peak of activations kept by onnxruntime's buffer cache (UNet + VAE decoder). */
  activationBytes: number;
  /** weightBytes + activationBytes. */
  totalGpuBytes: number;
  /** The largest ONNX graph with its external data: it passes through onnxruntime-web's wasm memory. */
  largestSessionBytes: number;
  /** Bytes of the pack the cache still lacks. */
  downloadBytes: number;
  /** Largest square image side (pixels, a multiple of 64) whose buffers fit, 0 if none. */
  largestFittingSide: number;
}

/** onnxruntime-web runs in 32-bit WebAssembly: a session's model and weights pass through at most 4 GiB. */
export const WASM_MEMORY_LIMIT = 4 * 2 ** 30;

/** CLIP's BPE vocabulary (SD 1.x and 2.x): rows of the token embedding, the text encoder's largest weight. */
const CLIP_VOCAB = 49408;

/** A pack that cannot run here; `problems` says why and what to do. The message holds it all (comlink keeps only name and message). */
export class PackDoesNotFitError extends Error {
  override readonly name = 'PackDoesNotFitError';
  constructor(
    readonly report: FitReport,
    /** e.g. "sd21 fp32 pack (4.9 GiB)", "Generating at 768x768". */
    readonly what: string,
    /** What was spared, e.g. "nothing was downloaded". */
    readonly spared: string,
  ) {
    super(describeFitProblems(what, spared, report));
  }
}

export function describeFitProblems(what: string, spared: string, report: FitReport): string {
  const lines = report.problems.map((p) => `${p.message} What to do: ${p.advice.join(' ')}`);
  return `${what} does not fit here (${spared}). ${lines.join(' Also: ')}`;
}

/** Checks a pack against the adapter and the storage before loading. Pure: no I/O. */
export function checkPackFit(request: FitRequest): FitReport {
  const { manifest, adapter, storage } = request;
  const nativeSide = manifest.dims.sampleSize * manifest.dims.vaeScale;
  const width = request.width ?? nativeSide;
  const height = request.height ?? nativeSide;
  const batch = request.batch ?? 2;
  const elt = manifest.dtype === 'fp16' ? 2 : 4;
  const problems: FitProblem[] = [];

  if (adapter && manifest.dtype === 'fp16' && !adapter.shaderF16)
    problems.push({
      kind: 'shader-f16',
      message: `This is an fp16 pack and this GPU adapter lacks the shader-f16 feature, which onnxruntime-web needs to run float16 graphs.`,
      advice: [
        'Load the fp32 pack of the same model (a diffusers repo in fp16 is widened to fp32 when Lethe builds its pack; a Lethe fp16 pack is not).',
        'Or use Chrome 120+ on a GPU with shader-f16 (most discrete and recent integrated GPUs; check chrome://gpu).',
      ],
    });

  const models: OnnxModelEntry[] = [manifest.textEncoder, ...manifest.pieces, manifest.vaeDecoder];
  const modelBytes = (model: OnnxModelEntry) => [model.file, ...model.externalData].reduce((sum, path) => sum + fileBytes(manifest, path), 0);
  const weight = largestWeight(manifest, elt, modelBytes);
  const activation = largestActivation(manifest, width, height, batch, elt);
  const need = weight.bytes >= activation.bytes ? weight : activation;
  const bufferLimit = adapter ? Math.min(adapter.maxBufferSize, adapter.maxStorageBufferBindingSize) : Infinity;
  // What a buffer may really take (see BUFFER_HEADROOM_BYTES); messages name the adapter's own limit.
  const usableLimit = bufferLimit - BUFFER_HEADROOM_BYTES;
  const atTheLimit = (bytes: number) => (bytes <= bufferLimit ? `, and a buffer within ${formatBytes(BUFFER_HEADROOM_BYTES)} of it can fail to allocate (Dawn pads it past the driver's limit)` : '');
  const largestFittingSide = fittingSide(manifest, batch, elt, usableLimit, weight.bytes);
  const notes: string[] = [];
  const loadOnly = (request.mode ?? 'load') === 'load' && weight.bytes <= usableLimit && largestFittingSide > 0;
  if (need.bytes > usableLimit && loadOnly)
    notes.push(
      `At ${width}x${height} the largest GPU buffer is ${formatBytes(need.bytes)} (${need.what}), ${need.bytes > bufferLimit ? 'over' : 'at'} this adapter's ${formatBytes(bufferLimit)}${atTheLimit(need.bytes)}: generate at ${largestFittingSide}x${largestFittingSide} or smaller here.`,
    );
  if (adapter && need.bytes > usableLimit && !loadOnly) {
    const limitName = adapter.maxStorageBufferBindingSize < adapter.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
    const advice: string[] = [];
    if (weight.bytes <= usableLimit && largestFittingSide > 0)
      advice.push(`Generate at ${largestFittingSide}x${largestFittingSide} or smaller (${width}x${height} needs the buffer above).`);
    else if (weight.bytes > usableLimit) advice.push(`Its largest weight alone is ${formatBytes(weight.bytes)} (${weight.what}), so no image size helps.`);
    if (manifest.dtype === 'fp32' && adapter.shaderF16) advice.push('Load the fp16 pack of this model: its buffers are half as large.');
    const unguidedSide = batch > 1 ? fittingSide(manifest, 1, elt, usableLimit, weight.bytes) : 0;
    if (unguidedSide > largestFittingSide) advice.push(`Or set guidance to 1 (a batch of 1): then up to ${unguidedSide}x${unguidedSide} fits.`);
    advice.push(
      `Or use a browser and GPU that expose a larger ${limitName} (Chrome on a discrete GPU allows 2-4 GiB; this adapter allows ${formatBytes(bufferLimit)}).`,
    );
    problems.push({
      kind: limitName === 'maxBufferSize' ? 'buffer' : 'binding',
      message: `The largest GPU buffer this pack needs at ${width}x${height} is ${formatBytes(need.bytes)} (${need.what}); this adapter's ${limitName} is ${formatBytes(bufferLimit)}${atTheLimit(need.bytes)}.`,
      advice,
    });
  }

  const largestSessionBytes = Math.max(...models.map(modelBytes));
  if (adapter && largestSessionBytes > WASM_MEMORY_LIMIT)
    problems.push({
      kind: 'wasm-memory',
      message: `One ONNX graph of this pack is ${formatBytes(largestSessionBytes)} with its weights; onnxruntime-web loads a graph through 32-bit WebAssembly memory (${formatBytes(WASM_MEMORY_LIMIT)}).`,
      advice: ['Convert the model again with a recent Lethe: packs split the UNet into pieces well under this limit.'],
    });

  const weightBytes = models.reduce((sum, model) => sum + modelBytes(model), 0) + fileBytes(manifest, manifest.crossAttentionWeights);
  const activationBytes = activationEstimate(manifest, width, height, batch, elt);
  let downloadBytes = 0;
  for (const entry of Object.values(manifest.files)) if (!request.cached?.has(entry.sha256)) downloadBytes += entry.bytes;
  if (storage) {
    const free = Math.max(0, storage.quotaBytes - storage.usageBytes);
    if (downloadBytes > free)
      problems.push({
        kind: 'storage',
        message: `The pack needs ${formatBytes(downloadBytes)} more browser storage; this site may use ${formatBytes(free)} more (quota ${formatBytes(storage.quotaBytes)}, ${formatBytes(storage.usageBytes)} used).`,
        advice: [
          `Free at least ${formatBytes(downloadBytes - free)}: clear Lethe's cache of models you no longer use, or other sites' data (Chrome gives a site up to 60% of the free disk).`,
          manifest.dtype === 'fp32' ? 'Or load the fp16 pack of this model (half the download).' : 'Or free disk space and press Load again.',
        ],
      });
  }

  return {
    fits: problems.length === 0,
    problems,
    notes,
    width,
    height,
    batch,
    largestWeight: weight,
    largestActivation: activation,
    weightBytes,
    activationBytes,
    totalGpuBytes: weightBytes + activationBytes,
    largestSessionBytes,
    downloadBytes,
    largestFittingSide,
  };
}

/** Throws PackDoesNotFitError (nothing downloaded yet) unless the pack fits. */
export function assertPackFits(request: FitRequest): FitReport {
  const report = checkPackFit(request);
  const { manifest } = request;
  if (!report.fits) {
    const total = Object.values(manifest.files).reduce((sum, entry) => sum + entry.bytes, 0);
    throw new PackDoesNotFitError(report, `This ${manifest.family} ${manifest.dtype} pack (${formatBytes(total)})`, 'nothing was downloaded');
  }
  return report;
}

/** Throws PackDoesNotFitError unless one image of this size fits the adapter's buffers. */
export function assertGenerationFits(manifest: PackManifest, adapter: FitAdapter, width: number, height: number, batch: number): FitReport {
  const report = checkPackFit({ manifest, adapter, storage: null, width, height, batch, mode: 'generate' });
  const problems = report.problems.filter((p) => p.kind === 'buffer' || p.kind === 'binding');
  if (problems.length > 0) throw new PackDoesNotFitError({ ...report, problems, fits: false }, `Generating at ${width}x${height}`, 'nothing was run');
  return report;
}

function fileBytes(manifest: PackManifest, path: string): number {
  return Object.hasOwn(manifest.files, path) ? manifest.files[path].bytes : 0;
}

/**
 * The largest weight tensor: CLIP's token embedding, an up block's 3x3 conv over the skip concat,
 * or a GEGLU projection; none larger than the files that hold it (forged tiny packs have small vocabularies).
 */
function largestWeight(manifest: PackManifest, elt: number, modelBytes: (model: OnnxModelEntry) => number): BufferNeed {
  const { textHidden, unetChannels } = manifest.dims;
  const textBytes = modelBytes(manifest.textEncoder);
  const unetBytes = Math.max(...manifest.pieces.map(modelBytes));
  const top = Math.max(...unetChannels);
  return largest([
    { bytes: Math.min(CLIP_VOCAB * textHidden * elt, textBytes), what: `text encoder token embedding (up to ${CLIP_VOCAB} x ${textHidden})` },
    { bytes: Math.min(top * 2 * top * 9 * elt, unetBytes), what: `UNet up-block 3x3 conv (${2 * top} -> ${top} channels)` },
    { bytes: Math.min(top * 8 * top * elt, unetBytes), what: `UNet GEGLU projection (${top} -> ${8 * top})` },
  ]);
}

/** The level (0 = full latent size) of a cross-attention layer, from its diffusers module path. */
function attentionLevel(module: string, levels: number): number {
  const match = /^(down_blocks|up_blocks)\.(\d+)\./.exec(module);
  if (!match) return levels - 1; // mid_block
  const block = Number(match[2]);
  return match[1] === 'down_blocks' ? block : levels - 1 - block;
}

/** The VAE decoder's block widths: SD's for the full-size families, the UNet's widths for the forged tiny ones. */
function vaeChannels(manifest: PackManifest): number[] {
  return manifest.family === 'sd15' || manifest.family === 'sd21' ? [128, 256, 512, 512] : manifest.dims.unetChannels;
}

function largestActivation(manifest: PackManifest, width: number, height: number, batch: number, elt: number): BufferNeed {
  const { dims } = manifest;
  const latentH = Math.ceil(height / dims.vaeScale);
  const latentW = Math.ceil(width / dims.vaeScale);
  const levels = dims.unetChannels.length;
  const candidates: BufferNeed[] = [];
  for (const layer of manifest.crossAttention) {
    const level = attentionLevel(layer.module, levels);
    const tokens = Math.ceil(latentH / 2 ** level) * Math.ceil(latentW / 2 ** level);
    const channels = dims.unetChannels[Math.min(level, levels - 1)];
    const where = layer.module.split('.attentions')[0];
    candidates.push({
      bytes: batch * layer.heads * tokens * tokens * elt,
      what: `UNet self-attention scores in ${where}: ${batch} x ${layer.heads} heads x ${tokens} x ${tokens} ${manifest.dtype}`,
    });
    candidates.push({ bytes: batch * tokens * 8 * channels * elt, what: `UNet GEGLU activations in ${where}` });
  }
  const vae = vaeChannels(manifest);
  const upsampled = vae.length > 1 ? vae[1] : vae[0];
  candidates.push({ bytes: upsampled * height * width * elt, what: `VAE decoder ${upsampled}-channel upsample at ${width}x${height}` });
  const vaeTokens = latentH * latentW;
  candidates.push({ bytes: vaeTokens * vaeTokens * elt, what: `VAE decoder attention scores (${vaeTokens} x ${vaeTokens})` });
  return largest(candidates);
}

/** Scores and softmax of the largest attention alive together, plus a few feature maps, in the UNet and in the VAE decoder. */
function activationEstimate(manifest: PackManifest, width: number, height: number, batch: number, elt: number): number {
  const { dims } = manifest;
  const latentPixels = Math.ceil(height / dims.vaeScale) * Math.ceil(width / dims.vaeScale);
  let unetScores = 0;
  for (const layer of manifest.crossAttention) {
    const level = attentionLevel(layer.module, dims.unetChannels.length);
    const tokens = latentPixels / 4 ** level;
    unetScores = Math.max(unetScores, batch * layer.heads * tokens * tokens * elt);
  }
  // The GEGLU projection at full latent size and its gated product.
  const unetMaps = 2 * batch * latentPixels * 8 * dims.unetChannels[0] * elt;
  const vae = vaeChannels(manifest);
  const vaeMaps = 3 * (vae.length > 1 ? vae[1] : vae[0]) * height * width * elt;
  const vaeScores = 2 * latentPixels * latentPixels * elt;
  return 2 * unetScores + unetMaps + vaeMaps + vaeScores;
}

/** Largest square side (multiple of 64 px, at most 2048) whose largest buffer fits `limit`. */
function fittingSide(manifest: PackManifest, batch: number, elt: number, limit: number, weightBytes: number): number {
  if (weightBytes > limit) return 0;
  if (limit === Infinity) return 2048;
  let best = 0;
  for (let side = 64; side <= 2048; side += 64) if (largestActivation(manifest, side, side, batch, elt).bytes <= limit) best = side;
  return best;
}

function largest(candidates: BufferNeed[]): BufferNeed {
  return candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

/** navigator.storage.estimate() where the platform has it (browsers, workers), else null (Node). */
export async function browserStorageFacts(): Promise<StorageFacts | null> {
  const storage = typeof navigator === 'undefined' ? undefined : (navigator as Navigator | undefined)?.storage;
  if (typeof process !== 'undefined' && typeof process.versions?.node === 'string') return null;
  if (typeof storage?.estimate !== 'function') return null;
  try {
    const { quota, usage } = await storage.estimate();
    return typeof quota === 'number' ? { quotaBytes: quota, usageBytes: usage ?? 0 } : null;
  } catch {
    return null;
  }
}
