/**
 * The values of a forged initializer. Each parameter draws from its own generator, seeded by the
 * forge seed and the parameter's torch name, so values do not depend on the order tensors are
 * written in, and the same parameter has the same values in the fp32 and fp16 forgings.
 */
import { SeededRandom } from '../../util/random.ts';
import { floatBytes, type WeightSpec } from './graph-builder.ts';

/** FNV-1a over the name, mixed with the seed: a 32-bit seed per parameter. */
export function parameterSeed(seed: number, param: string): number {
  let hash = (0x811c9dc5 ^ Math.trunc(seed)) >>> 0;
  for (let i = 0; i < param.length; i++) {
    hash ^= param.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Values in the torch parameter's own layout (before any transpose). */
export function parameterValues(spec: WeightSpec, seed: number): Float32Array {
  const count = spec.torchDims.reduce((a, b) => a * b, 1);
  if (spec.init.kind === 'values') {
    if (spec.init.values.length !== count) throw new Error(`forge: ${spec.param} has ${spec.init.values.length} values for ${count} elements`);
    return spec.init.values;
  }
  const random = new SeededRandom(parameterSeed(seed, spec.param));
  const values = random.normalArray(count, spec.init.std);
  const mean = spec.init.mean ?? 0;
  if (mean !== 0) for (let i = 0; i < count; i++) values[i] += mean;
  return values;
}

/** Values as stored in the initializer (transposed [in, out] for Linear weights behind a MatMul). */
export function storedValues(spec: WeightSpec, seed: number): Float32Array {
  const values = parameterValues(spec, seed);
  if (!spec.transposed) return values;
  const [rows, cols] = spec.torchDims;
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/** Raw little-endian bytes of the initializer in the model's float type. */
export function weightBytes(spec: WeightSpec, seed: number, elemType: number): Uint8Array {
  return floatBytes(storedValues(spec, seed), elemType);
}
