import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { OpenedPack } from '../model/pack-opener.ts';
import type { OnnxRunner } from '../pipeline/onnx/runner.ts';
import { loadClipTokenizer, type ClipTokenizer } from '../pipeline/tokenizer/clip-tokenizer.ts';
import { TextEncoderRunner } from '../pipeline/text-encoder.ts';
import { loadCrossAttentionWeights, type CrossAttentionWeights } from '../pipeline/unet/cross-attention-weights.ts';
import { UnetRunner } from '../pipeline/unet/unet-runner.ts';
import { VaeDecoderRunner } from '../pipeline/vae-decoder.ts';
import { FormatError } from '../util/errors.ts';
import type { PackSummary } from './api.ts';

/**
 * A pack made ready to run: tokenizer, ORT sessions for the text encoder, the UNet pieces and
 * the VAE decoder, and the cross-attention weights on the GPU (the hook every edit goes through).
 */
export class LoadedModel {
  private constructor(
    readonly pack: OpenedPack,
    readonly tokenizer: ClipTokenizer,
    readonly textEncoder: TextEncoderRunner,
    readonly unet: UnetRunner,
    readonly vae: VaeDecoderRunner,
    readonly weights: CrossAttentionWeights,
    readonly schedulerConfig: unknown,
  ) {}

  static async load(ctx: GpuContext, runner: OnnxRunner, pack: OpenedPack, onCompile: (what: string) => void): Promise<LoadedModel> {
    const { manifest, files } = pack;
    const tokenizerFiles = manifest.tokenizer;
    if (!tokenizerFiles.vocab || !tokenizerFiles.merges || !tokenizerFiles.config) {
      throw new FormatError('manifest.json', 'tokenizer', 'Lethe reads CLIP tokenizers from vocab.json + merges.txt + tokenizer_config.json; this pack lacks one of them');
    }
    const tokenizer = loadClipTokenizer({
      vocabJson: await files.text(tokenizerFiles.vocab),
      mergesTxt: await files.text(tokenizerFiles.merges),
      tokenizerConfigJson: await files.text(tokenizerFiles.config),
      ...(tokenizerFiles.specialTokens ? { specialTokensMapJson: await files.text(tokenizerFiles.specialTokens) } : {}),
    });
    const schedulerPath = manifest.scheduler.config;
    let schedulerConfig: unknown;
    try {
      schedulerConfig = JSON.parse(await files.text(schedulerPath));
    } catch (error) {
      throw new FormatError(schedulerPath, '(root)', `not JSON: ${(error as Error).message}`);
    }
    onCompile(manifest.textEncoder.file);
    const textEncoder = await TextEncoderRunner.create(runner, files);
    onCompile('unet');
    const unet = await UnetRunner.create(runner, files);
    onCompile(manifest.vaeDecoder.file);
    const vae = await VaeDecoderRunner.create(runner, files);
    const weights = await loadCrossAttentionWeights(ctx, files);
    return new LoadedModel(pack, tokenizer, textEncoder, unet, vae, weights, schedulerConfig);
  }

  get summary(): PackSummary {
    return this.pack.summary;
  }

  /** Text embeddings [n, 77, d] of `prompts`, on the GPU. */
  async encode(ctx: GpuContext, prompts: readonly string[]): Promise<GpuTensor> {
    const tokens = this.pack.manifest.dims.textTokens;
    const ids = new Int32Array(prompts.length * tokens);
    prompts.forEach((prompt, i) => ids.set(this.tokenizer.encode(prompt), i * tokens));
    return this.textEncoder.encode(ctx, ids, prompts.length);
  }

  async release(): Promise<void> {
    await this.textEncoder.release();
    await this.unet.release();
    await this.vae.release();
    for (const tensor of [...this.weights.toK, ...this.weights.toV]) tensor.release();
  }
}
