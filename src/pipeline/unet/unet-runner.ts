import type { GpuContext } from '../../gpu/context.ts';
import type { TensorSpec, UnetPiece } from '../../model/manifest.ts';
import { ShapeError } from '../../util/errors.ts';
import { toHalf } from '../../util/half.ts';
import { readFloat32, type InferenceSession, type OnnxRunner, type Tensor } from '../onnx/runner.ts';
import type { PackReader } from '../../model/pack-reader.ts';
import { sessionSpecOf } from '../session-spec.ts';
import type { ProjectedKv } from './kv-projection.ts';

const FINAL_OUTPUT = 'out_sample';

/** K/V of every layer as ORT inputs, made once per generation. */
export interface UnetConditioning {
  feeds: Map<string, Tensor>;
  release(): void;
}

/**
 * The pack's UNet pieces run one after another; tensors crossing piece boundaries (skip
 * connections, the time embedding) stay where ORT put them (GPU buffers on WebGPU) and are
 * freed after their last consumer.
 */
export class UnetRunner {
  private constructor(
    private readonly runner: OnnxRunner,
    private readonly pieces: readonly UnetPiece[],
    private readonly sessions: InferenceSession[],
    /** After piece i runs, these tensors are no longer needed. */
    private readonly lastUse: string[][],
  ) {}

  static async create(runner: OnnxRunner, pack: PackReader): Promise<UnetRunner> {
    const pieces = pack.manifest.pieces;
    if (pieces.length === 0) throw new ShapeError('pack has no UNet pieces');
    const sessions: InferenceSession[] = [];
    for (const piece of pieces) {
      const gpuOutputs = piece.outputs.map((o) => o.name).filter((name) => name !== FINAL_OUTPUT);
      sessions.push(await runner.createSession(await sessionSpecOf(pack, piece, gpuOutputs)));
    }
    const produced = new Map<string, number>();
    pieces.forEach((piece, i) => piece.outputs.forEach((o) => produced.set(o.name, i)));
    const lastUse: string[][] = pieces.map(() => []);
    const lastConsumer = new Map<string, number>();
    pieces.forEach((piece, i) => piece.inputs.forEach((input) => produced.has(input.name) && lastConsumer.set(input.name, i)));
    for (const [name, i] of lastConsumer) lastUse[i].push(name);
    if (!pieces[pieces.length - 1].outputs.some((o) => o.name === FINAL_OUTPUT)) throw new ShapeError(`the last UNet piece has no ${FINAL_OUTPUT} output`);
    return new UnetRunner(runner, pieces, sessions, lastUse);
  }

  /** Turns projected K/V into ORT inputs, converting to each input's declared type. */
  async conditioning(ctx: GpuContext, kv: ProjectedKv): Promise<UnetConditioning> {
    const feeds = new Map<string, Tensor>();
    const specs = new Map<string, TensorSpec>();
    for (const piece of this.pieces) for (const input of piece.inputs) specs.set(input.name, input);
    const add = async (name: string, tensor: ProjectedKv['keys'][number]) => {
      const spec = specs.get(name);
      if (!spec) return;
      if (spec.dtype === 'float16' && tensor.dtype === 'f32') {
        feeds.set(name, this.runner.hostTensor('float16', toHalf(await ctx.read(tensor)), tensor.shape));
      } else {
        feeds.set(name, await this.runner.fromGpu(ctx, tensor));
      }
    };
    for (let i = 0; i < kv.keys.length; i++) {
      await add(`k_${i}`, kv.keys[i]);
      await add(`v_${i}`, kv.values[i]);
    }
    for (const [name, spec] of specs) {
      if (/^[kv]_\d+$/.test(name) && !feeds.has(name)) throw new ShapeError(`UNet input ${name} (${spec.shape}) has no projected K/V`);
    }
    return {
      feeds,
      release() {
        for (const tensor of feeds.values()) tensor.dispose();
        feeds.clear();
      },
    };
  }

  /** One noise prediction: latents [B, C, h, w] at `timestep` -> out_sample (same shape). */
  async predict(latents: Float32Array, shape: readonly number[], timestep: number, conditioning: UnetConditioning): Promise<Float32Array> {
    const live = new Map<string, Tensor>();
    try {
      let result: Float32Array | null = null;
      for (let i = 0; i < this.pieces.length; i++) {
        const piece = this.pieces[i];
        const feeds: Record<string, Tensor> = {};
        for (const input of piece.inputs) {
          feeds[input.name] = this.input(input, latents, shape, timestep, conditioning, live);
        }
        const outputs = await this.sessions[i].run(feeds);
        for (const input of piece.inputs) {
          if (input.name === 'sample' || input.name === 'timestep') feeds[input.name].dispose();
        }
        for (const [name, tensor] of Object.entries(outputs)) {
          if (name === FINAL_OUTPUT) {
            result = (await readFloat32(tensor)).slice();
            tensor.dispose();
          } else {
            live.set(name, tensor);
          }
        }
        for (const name of this.lastUse[i]) {
          live.get(name)?.dispose();
          live.delete(name);
        }
      }
      if (!result) throw new ShapeError(`UNet produced no ${FINAL_OUTPUT}`);
      return result;
    } finally {
      for (const tensor of live.values()) tensor.dispose();
    }
  }

  async release(): Promise<void> {
    for (const session of this.sessions) await session.release();
  }

  private input(spec: TensorSpec, latents: Float32Array, shape: readonly number[], timestep: number, conditioning: UnetConditioning, live: Map<string, Tensor>): Tensor {
    if (spec.name === 'sample') {
      return spec.dtype === 'float16' ? this.runner.hostTensor('float16', toHalf(latents), shape) : this.runner.hostTensor('float32', latents, shape);
    }
    if (spec.name === 'timestep') {
      if (spec.dtype === 'int64') return this.runner.hostTensor('int64', BigInt64Array.of(BigInt(Math.round(timestep))), [1]);
      if (spec.dtype === 'float16') return this.runner.hostTensor('float16', toHalf([timestep]), [1]);
      return this.runner.hostTensor('float32', Float32Array.of(timestep), [1]);
    }
    const fromEarlierPiece = live.get(spec.name);
    if (fromEarlierPiece) return fromEarlierPiece;
    const kv = conditioning.feeds.get(spec.name);
    if (kv) return kv;
    throw new ShapeError(`UNet piece input ${spec.name} is neither sample, timestep, K/V, nor an earlier piece's output`);
  }
}
