import type { GpuContext } from '../../gpu/context.ts';
import type { KernelSource } from '../../gpu/kernel-registry.ts';
import type { GpuTensor } from '../../gpu/tensor.ts';
import { Uniforms } from '../../gpu/uniforms.ts';
import { ShapeError } from '../../util/errors.ts';
import { InputError } from '../../util/errors.ts';
import { flatGrid } from '../../gpu/kernels/grid.ts';
import { reduce } from '../../gpu/kernels/reduce.ts';
import { fill } from '../../gpu/kernels/fill.ts';
import { layoutCopy } from '../../gpu/kernels/layout-copy.ts';
import adamWgsl from './adam.wgsl?raw';
import clipWgsl from './clip.wgsl?raw';

const adamKernel: KernelSource = { name: 'adam', wgsl: adamWgsl };
const clipKernel: KernelSource = { name: 'clip', wgsl: clipWgsl };

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Decoupled (AdamW) by default; `decoupled: false` adds it to the gradient (Adam + L2). */
  weightDecay?: number;
  decoupled?: boolean;
  /** Clip the global gradient norm to this (0 or absent: no clipping). */
  maxGradNorm?: number;
}

/**
 * Adam / AdamW over f32 parameters that live on the GPU. Moments stay on the GPU; the
 * clipping coefficient is computed there too, so `step` only records dispatches.
 */
export class Adam {
  private readonly m: GpuTensor[];
  private readonly v: GpuTensor[];
  private readonly coef: GpuTensor;
  private readonly partials: GpuTensor;
  private readonly options: Required<AdamOptions>;
  /** Steps taken so far (bias corrections use t = steps after the update). */
  steps = 0;

  constructor(private readonly ctx: GpuContext, readonly params: readonly GpuTensor[], options: AdamOptions) {
    this.options = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: true, maxGradNorm: 0, ...options };
    const { learningRate, beta1, beta2, epsilon, weightDecay } = this.options;
    if (!(learningRate > 0) || !Number.isFinite(learningRate)) throw new InputError(`Adam: learningRate must be a positive number, got ${learningRate}`);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) throw new InputError(`Adam: betas must lie in [0, 1), got ${beta1}, ${beta2}`);
    if (!(epsilon > 0) || !(weightDecay >= 0)) throw new InputError(`Adam: epsilon must be > 0 and weightDecay >= 0, got ${epsilon}, ${weightDecay}`);
    for (const p of params) if (p.dtype !== 'f32') throw new ShapeError(`Adam: parameters must be f32, got [${p.shape}] ${p.dtype}`);
    this.m = params.map((p) => fill(ctx, ctx.empty(p.shape), 0));
    this.v = params.map((p) => fill(ctx, ctx.empty(p.shape), 0));
    this.coef = ctx.empty([2]);
    this.partials = ctx.empty([Math.max(1, params.length)]);
  }

  /** Applies one update from `grads` (one per parameter, same shapes). */
  step(grads: readonly GpuTensor[]): void {
    const { ctx } = this;
    if (grads.length !== this.params.length) throw new ShapeError(`Adam.step: ${grads.length} gradients for ${this.params.length} parameters`);
    grads.forEach((g, i) => {
      if (g.size !== this.params[i].size) throw new ShapeError(`Adam.step: gradient ${i} [${g.shape}] does not match parameter [${this.params[i].shape}]`);
      if (g.dtype !== 'f32') throw new ShapeError(`Adam.step: gradient ${i} must be f32`);
      const squares = reduce(ctx, 'sumSquares', g.reshape([g.size]), { axis: 0, keepdims: true });
      layoutCopy(ctx, squares, this.partials, { shape: [1], inStrides: [1], outOffset: i });
      squares.release();
    });
    ctx.dispatch({ kernel: clipKernel, dtype: 'f32', tensors: [this.partials, this.coef], uniforms: new Uniforms().u32(grads.length).f32(this.options.maxGradNorm).finish(), workgroups: [1] });
    this.steps++;
    const { learningRate, beta1, beta2, epsilon, weightDecay, decoupled } = this.options;
    const bc1 = 1 - beta1 ** this.steps;
    const bc2 = 1 - beta2 ** this.steps;
    this.params.forEach((param, i) => {
      ctx.dispatch({
        kernel: adamKernel,
        dtype: 'f32',
        defines: { DECOUPLED: decoupled ? 1 : 0 },
        tensors: [param, grads[i], this.m[i], this.v[i], this.coef],
        uniforms: new Uniforms().u32(param.size).f32(learningRate).f32(beta1).f32(beta2).f32(epsilon).f32(weightDecay).f32(bc1).f32(bc2).finish(),
        workgroups: flatGrid(Math.ceil(param.size / 64), ctx.device.limits.maxComputeWorkgroupsPerDimension),
      });
    });
  }

  /** Global gradient norm of the last step (before clipping); reads back from the GPU. */
  async lastGradNorm(): Promise<number> {
    return (await this.ctx.read(this.coef))[1];
  }

  /** The moments, on the CPU (first m then v per parameter), and the step count: what a training checkpoint saves. */
  async exportState(): Promise<{ steps: number; m: Float32Array[]; v: Float32Array[] }> {
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (const t of this.m) m.push(await this.ctx.read(t));
    for (const t of this.v) v.push(await this.ctx.read(t));
    return { steps: this.steps, m, v };
  }

  /** Restores exportState's values (a resumed run then takes the same updates as an uninterrupted one). */
  importState(state: { steps: number; m: readonly Float32Array[]; v: readonly Float32Array[] }): void {
    if (!Number.isInteger(state.steps) || state.steps < 0) throw new InputError(`Adam.importState: steps must be an integer >= 0, got ${state.steps}`);
    if (state.m.length !== this.params.length || state.v.length !== this.params.length) throw new ShapeError(`Adam.importState: ${state.m.length} / ${state.v.length} moments for ${this.params.length} parameters`);
    this.params.forEach((p, i) => {
      if (state.m[i].length !== p.size || state.v[i].length !== p.size) throw new ShapeError(`Adam.importState: moments of parameter ${i} have ${state.m[i].length} / ${state.v[i].length} values, expected ${p.size}`);
      this.ctx.writeTensor(this.m[i], state.m[i]);
      this.ctx.writeTensor(this.v[i], state.v[i]);
    });
    this.steps = state.steps;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v, this.coef, this.partials]) t.release();
  }
}
