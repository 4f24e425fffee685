import type { OnnxModelEntry } from '../model/manifest.ts';
import { toHalf } from '../util/half.ts';
import { readFloat32, type InferenceSession, type OnnxRunner } from './onnx/runner.ts';
import type { PackReader } from '../model/pack-reader.ts';
import { sessionSpecOf } from './session-spec.ts';

/** VAE decoder: latents [1, 4, h, w] (already divided by the scaling factor) -> image [1, 3, 8h, 8w] in [-1, 1]. */
export class VaeDecoderRunner {
  private constructor(
    private readonly runner: OnnxRunner,
    private readonly session: InferenceSession,
    private readonly entry: OnnxModelEntry,
  ) {}

  static async create(runner: OnnxRunner, pack: PackReader): Promise<VaeDecoderRunner> {
    const entry = pack.manifest.vaeDecoder;
    // Lethe decodes one image at a time.
    return new VaeDecoderRunner(runner, await runner.createSession(await sessionSpecOf(pack, entry, [], { [`${entry.inputs[0].name}:0`]: 1 })), entry);
  }

  async decode(latents: Float32Array, shape: readonly number[]): Promise<{ pixels: Float32Array; shape: number[] }> {
    const input = this.entry.inputs[0];
    const feed = input.dtype === 'float16' ? this.runner.hostTensor('float16', toHalf(latents), shape) : this.runner.hostTensor('float32', latents, shape);
    const outputs = await this.session.run({ [input.name]: feed });
    const output = outputs[this.entry.outputs[0].name];
    const pixels = (await readFloat32(output)).slice();
    const outShape = [...output.dims];
    for (const tensor of Object.values(outputs)) tensor.dispose();
    return { pixels, shape: outShape };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
