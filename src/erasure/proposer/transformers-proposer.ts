/**
 * A small instruct LLM from the hub, run by transformers.js's text-generation pipeline: WebGPU
 * with 4-bit weights in the browser (q4f16, or q4 where the adapter lacks shader-f16), the CPU in
 * Node. Weights are downloaded once with progress and kept in transformers.js's cache (the
 * browser's Cache Storage, or a folder in Node). Greedy decoding of the shared proposer prompt;
 * the reply goes through parseProposalReply like every LLM reply.
 *
 * transformers.js is imported on first use, so the studio's bundle and the CLI's start-up do not
 * pay for it. Its settings (`env`) are global to the worker or process that imports it.
 */
import { InputError } from '../../util/errors.ts';
import { proposerMessages, type ChatMessage } from './llm-prompt.ts';
import type { ProposalRequest, ProposeOptions, ProposerBackend, ProposerProgress, RawProposal } from './proposal.ts';
import { parseProposalReply } from './reply-parser.ts';

/** A 0.5B instruct model with q4f16 ONNX weights (about 480 MB): small enough for a laptop GPU. */
export const DEFAULT_PROPOSER_MODEL = 'onnx-community/Qwen2.5-0.5B-Instruct';

export type TransformersDevice = 'webgpu' | 'cpu' | 'wasm';
export type TransformersDtype = 'q4f16' | 'q4' | 'fp16' | 'fp32';

export interface TransformersProposerOptions {
  /** Default: 'webgpu' in a browser, 'cpu' in Node. */
  readonly device?: TransformersDevice;
  /** Default: 'q4f16' on WebGPU, 'q4' elsewhere. */
  readonly dtype?: TransformersDtype;
  readonly revision?: string;
  /** A hub mirror (or the tests' local hub), instead of https://huggingface.co. */
  readonly endpoint?: string;
  /** Node only: where downloaded files are kept. */
  readonly cacheDir?: string;
  readonly maxNewTokens?: number;
}

/** What the last generation did, for the UI and the tests. */
export interface GenerationReport {
  readonly device: TransformersDevice;
  readonly dtype: TransformersDtype;
  readonly newTokens: number;
  readonly ms: number;
  readonly raw: string;
}

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

type Generator = (messages: ChatMessage[], options: Record<string, unknown>) => Promise<unknown>;
interface LoadedGenerator {
  generate: Generator;
  countTokens(text: string): number;
}

export class TransformersProposer implements ProposerBackend {
  readonly id: string;
  readonly label: string;
  readonly device: TransformersDevice;
  readonly dtype: TransformersDtype;
  lastGeneration: GenerationReport | null = null;
  private loading: Promise<LoadedGenerator> | null = null;

  constructor(
    readonly hubId: string,
    private readonly options: TransformersProposerOptions = {},
  ) {
    if (!HUB_ID.test(hubId)) throw new InputError(`transformers backend: hub id: expected "owner/name", got ${JSON.stringify(hubId)}`);
    this.id = `transformers:${hubId}`;
    this.label = `${hubId} (transformers.js)`;
    const node = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
    this.device = options.device ?? (node ? 'cpu' : 'webgpu');
    this.dtype = options.dtype ?? (this.device === 'webgpu' ? 'q4f16' : 'q4');
  }

  async propose(request: ProposalRequest, options: ProposeOptions = {}): Promise<RawProposal> {
    const generator = await this.load(options.onProgress);
    options.signal?.throwIfAborted();
    options.onProgress?.({ phase: 'generate', message: `Generating with ${this.hubId}` });
    const start = performance.now();
    const output = await generator.generate(proposerMessages(request), { max_new_tokens: this.options.maxNewTokens ?? 384, do_sample: false });
    const raw = replyText(output);
    const report: GenerationReport = { device: this.device, dtype: this.dtype, newTokens: generator.countTokens(raw), ms: performance.now() - start, raw };
    this.lastGeneration = report;
    options.signal?.throwIfAborted();
    const parsed = parseProposalReply(raw, this.id);
    return { ...parsed, notes: [...parsed.notes, `${this.hubId} wrote ${report.newTokens} tokens in ${(report.ms / 1000).toFixed(1)} s on ${report.device} (${report.dtype}).`] };
  }

  private load(onProgress?: (progress: ProposerProgress) => void): Promise<LoadedGenerator> {
    this.loading ??= this.createPipeline(onProgress).catch((error: unknown) => {
      this.loading = null;
      throw error;
    });
    return this.loading;
  }

  private async createPipeline(onProgress?: (progress: ProposerProgress) => void): Promise<LoadedGenerator> {
    const { pipeline, env } = await import('@huggingface/transformers');
    if (this.options.endpoint) env.remoteHost = this.options.endpoint.endsWith('/') ? this.options.endpoint : `${this.options.endpoint}/`;
    env.allowLocalModels = false;
    if (this.options.cacheDir) env.cacheDir = this.options.cacheDir;
    onProgress?.({ phase: 'load', message: `Loading ${this.hubId} (${this.dtype}, ${this.device})` });
    const generator = await pipeline('text-generation', this.hubId, {
      device: this.device,
      dtype: this.dtype,
      ...(this.options.revision ? { revision: this.options.revision } : {}),
      progress_callback: (info: { status: string; file?: string; loaded?: number; total?: number }) => {
        if (info.status === 'progress' && info.file)
          onProgress?.({ phase: 'download', file: info.file, bytesDone: info.loaded, bytesTotal: info.total, message: `Downloading ${info.file}` });
      },
    });
    return {
      generate: generator as unknown as Generator,
      countTokens: (text) => (generator.tokenizer.encode(text, { add_special_tokens: false }) as number[]).length,
    };
  }
}

/** The assistant's text from the pipeline's output for chat input. */
function replyText(output: unknown): string {
  const first = Array.isArray(output) ? (output[0] as { generated_text?: unknown } | undefined) : undefined;
  const generated = first?.generated_text;
  if (typeof generated === 'string') return generated;
  if (Array.isArray(generated)) {
    const last = generated[generated.length - 1] as { role?: unknown; content?: unknown } | undefined;
    if (last && last.role === 'assistant' && typeof last.content === 'string') return last.content;
  }
  throw new InputError(`transformers backend: the text-generation pipeline returned no assistant message (${JSON.stringify(output)?.slice(0, 200)})`);
}
