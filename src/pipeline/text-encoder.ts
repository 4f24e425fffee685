import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { OnnxModelEntry } from '../model/manifest.ts';
import type { InferenceSession, OnnxRunner } from './onnx/runner.ts';
import type { PackReader } from '../model/pack-reader.ts';
import { sessionSpecOf } from './session-spec.ts';
import { ShapeError } from '../util/errors.ts';
import { widenHalf } from '../gpu/kernels/widen-half.ts';

/** CLIP text encoder: token ids [batch, 77] -> last_hidden_state [batch, 77, d] on the GPU. */
export class TextEncoderRunner {
  private constructor(
    private readonly runner: OnnxRunner,
    private readonly session: InferenceSession,
    private readonly entry: OnnxModelEntry,
    readonly width: number,
    readonly tokens: number,
  ) {}

  static async create(runner: OnnxRunner, pack: PackReader): Promise<TextEncoderRunner> {
    const entry = pack.manifest.textEncoder;
    const session = await runner.createSession(await sessionSpecOf(pack, entry, ['last_hidden_state'], { 'input_ids:1': pack.manifest.dims.textTokens }));
    return new TextEncoderRunner(runner, session, entry, pack.manifest.dims.textHidden, pack.manifest.dims.textTokens);
  }

  async encode(ctx: GpuContext, ids: Int32Array, batch: number): Promise<GpuTensor> {
    if (ids.length !== batch * this.tokens) throw new ShapeError(`text encoder: ${ids.length} ids for ${batch} prompts of ${this.tokens} tokens`);
    const idInput = this.entry.inputs.find((input) => input.name === 'input_ids');
    if (!idInput) throw new ShapeError(`${this.entry.file}: no input_ids input`);
    const feed =
      idInput.dtype === 'int64'
        ? this.runner.hostTensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [batch, this.tokens])
        : this.runner.hostTensor('int32', ids, [batch, this.tokens]);
    const outputs = await this.session.run({ input_ids: feed });
    const hidden = outputs.last_hidden_state;
    for (const [name, tensor] of Object.entries(outputs)) if (name !== 'last_hidden_state') tensor.dispose();
    if (!hidden) throw new ShapeError(`${this.entry.file}: no last_hidden_state output`);
    // Copy out of ORT's buffer so the embedding outlives this call independently of ORT. An
    // fp16 pack's encoder hands over float16; our kernels (K/V projection, closed form, LoRA
    // training) take the embedding in f32, as the cross-attention weights are.
    const borrowed = await this.runner.toGpu(ctx, hidden);
    let embedding: GpuTensor;
    if (borrowed.dtype === 'f16') embedding = widenHalf(ctx, borrowed);
    else {
      embedding = ctx.empty(borrowed.shape, borrowed.dtype);
      ctx.copy(borrowed, embedding);
    }
    ctx.flush();
    if (this.runner.sharesDevice) await ctx.device.queue.onSubmittedWorkDone();
    else borrowed.release();
    hidden.dispose();
    return embedding;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
