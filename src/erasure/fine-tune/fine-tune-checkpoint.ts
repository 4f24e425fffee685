/**
 * A fine-tuning run's state after some steps, as one safetensors file: every LoRA factor and
 * Adam moment (float32, exact), and in `__metadata__` the run's recipe hash, the steps done,
 * Adam's step count and the loss history. The random state needs no saving: each step's draws
 * are a pure function of (seed, step) (loss-terms.ts stepRandom), so resuming at step k draws
 * what the uninterrupted run drew there, and the bytes of the result are the same.
 */
import { readSafetensors, tensorToFloat32, writeSafetensors, type SafetensorsWriteTensor } from '../../formats/safetensors/index.ts';
import { FormatError } from '../../util/errors.ts';
import { LOSS_GROUPS, type LossGroup } from './loss-terms.ts';

export const CHECKPOINT_FORMAT = 'lethe-fine-tune-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** One step's loss: the total and its parts per chart line. */
export interface StepLoss {
  readonly step: number;
  readonly loss: number;
  readonly groups: Partial<Record<LossGroup, number>>;
}

export interface FineTuneCheckpoint {
  /** sha256 of the canonical recipe the run replays: a checkpoint resumes only its own run. */
  readonly recipeSha256: string;
  /** Steps completed (the next step to run). */
  readonly step: number;
  readonly adamSteps: number;
  readonly losses: readonly StepLoss[];
  /** LoRA factors and Adam moments by name, with shapes. */
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;
}

export function encodeCheckpoint(checkpoint: FineTuneCheckpoint): Uint8Array {
  const tensors: [string, SafetensorsWriteTensor][] = [...checkpoint.tensors].map(([name, t]) => [name, { dtype: 'F32', shape: t.shape, data: t.data }]);
  const state = { recipeSha256: checkpoint.recipeSha256, step: checkpoint.step, adamSteps: checkpoint.adamSteps, losses: checkpoint.losses };
  return writeSafetensors(tensors, { format: CHECKPOINT_FORMAT, version: String(CHECKPOINT_VERSION), state: JSON.stringify(state) });
}

/** Reads a checkpoint file; anything that is not one Lethe wrote is a FormatError naming the file and field. */
export function decodeCheckpoint(bytes: Uint8Array, file: string): FineTuneCheckpoint {
  const parsed = readSafetensors(bytes, file);
  const { metadata } = parsed;
  if (metadata.format !== CHECKPOINT_FORMAT) throw new FormatError(file, '__metadata__.format', `expected "${CHECKPOINT_FORMAT}", got ${JSON.stringify(metadata.format ?? null)}`);
  if (metadata.version !== String(CHECKPOINT_VERSION)) throw new FormatError(file, '__metadata__.version', `this build reads checkpoint version ${CHECKPOINT_VERSION}, got ${JSON.stringify(metadata.version ?? null)}`);
  let state: unknown;
  try {
    state = JSON.parse(metadata.state ?? '');
  } catch (error) {
    throw new FormatError(file, '__metadata__.state', `not JSON: ${(error as Error).message}`);
  }
  const record = state as Record<string, unknown>;
  const fail = (field: string, expected: string): never => {
    throw new FormatError(file, `__metadata__.state.${field}`, `expected ${expected}, got ${JSON.stringify(record?.[field] ?? null)}`);
  };
  if (typeof state !== 'object' || state === null || Array.isArray(state)) fail('(root)', 'an object');
  if (typeof record.recipeSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(record.recipeSha256)) fail('recipeSha256', '64 lowercase hex digits');
  const count = (field: string): number => {
    const v = record[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(field, 'an integer >= 0');
    return v as number;
  };
  const step = count('step');
  const adamSteps = count('adamSteps');
  if (!Array.isArray(record.losses) || record.losses.length !== step) fail('losses', `an array of ${step} step losses`);
  const losses = (record.losses as unknown[]).map((entry, i): StepLoss => {
    const e = entry as Record<string, unknown>;
    const groups = e?.groups as Record<string, unknown> | undefined;
    const ok =
      typeof e === 'object' && e !== null && e.step === i && typeof e.loss === 'number' && Number.isFinite(e.loss) &&
      typeof groups === 'object' && groups !== null && Object.entries(groups).every(([k, v]) => (LOSS_GROUPS as readonly string[]).includes(k) && typeof v === 'number' && Number.isFinite(v));
    if (!ok) fail(`losses[${i}]`, `{ step: ${i}, loss: a finite number, groups: { ${LOSS_GROUPS.join('|')}: number } }`);
    return { step: i, loss: e.loss as number, groups: groups as Partial<Record<LossGroup, number>> };
  });
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, tensor] of parsed.tensors) {
    if (tensor.dtype !== 'F32') throw new FormatError(file, `${name}.dtype`, `expected F32 (checkpoints keep exact float32 state), got ${tensor.dtype}`);
    tensors.set(name, { shape: [...tensor.shape], data: tensorToFloat32(tensor, file) });
  }
  return { recipeSha256: record.recipeSha256 as string, step, adamSteps, losses, tensors };
}
