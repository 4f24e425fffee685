import { InputError, ShapeError } from '../../util/errors.ts';
import type { NoiseDraw } from './scheduler.ts';

export function checkStepIndex(stepIndex: number, steps: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= steps) {
    throw new InputError(`step index: got ${stepIndex}, expected an integer in [0, ${steps - 1}]`);
  }
}

export function checkLength(modelOutput: Float32Array, sample: Float32Array): void {
  if (modelOutput.length !== sample.length) {
    throw new ShapeError(`scheduler step: model output has ${modelOutput.length} values, sample has ${sample.length}`);
  }
}

/** Calls the caller's noise source and checks it returned a tensor of the sample's size. */
export function drawNoise(noise: NoiseDraw | undefined, length: number, who: string): Float32Array {
  if (!noise) throw new InputError(`${who} adds noise on this step: pass a noise source to step()`);
  const z = noise();
  if (z.length !== length) throw new ShapeError(`${who}: noise has ${z.length} values, sample has ${length}`);
  return z;
}
