/**
 * The proposer as a worker exposes it: one call with the backend chosen by name, backends kept
 * between calls (the WordNet index is parsed once, a hub model loaded once per id and options).
 * The studio runs it in its own worker (workers/proposer.worker.ts), so a hub model's download,
 * its WebGPU device and its generation never block the page or share the engine's queue.
 */
import type { ConceptKind } from '../concept-sets.ts';
import { backendChoiceId, type BackendChoice } from './backends.ts';
import type { Proposal, ProposerBackend, ProposerProgress } from './proposal.ts';
import { propose } from './propose.ts';
import { TransformersProposer, type TransformersDevice, type TransformersDtype } from './transformers-proposer.ts';
import { defaultWordNetLoader } from './wordnet-loader.ts';
import { WordNetProposer } from './wordnet-proposer.ts';

export interface ProposeCall {
  concept: string;
  kind: ConceptKind;
  corefs: number;
  retains: number;
  backend: BackendChoice;
  /** Hub mirror for transformers backends. */
  endpoint?: string;
}

export interface ProposerServiceApi {
  propose(call: ProposeCall, onProgress?: (progress: ProposerProgress) => void): Promise<Proposal>;
}

export interface ProposerServiceOptions {
  /** Runs before transformers.js is first imported (the worker points onnxruntime-web at its bundled wasm). */
  prepareTransformers?: () => Promise<void>;
  /** The transformers device and dtype for this platform. */
  transformersTarget?: () => Promise<{ device: TransformersDevice; dtype: TransformersDtype }>;
}

export class ProposerService implements ProposerServiceApi {
  private readonly backends = new Map<string, ProposerBackend>();
  private readonly wordnet = new WordNetProposer(defaultWordNetLoader());

  constructor(private readonly options: ProposerServiceOptions = {}) {}

  async propose(call: ProposeCall, onProgress?: (progress: ProposerProgress) => void): Promise<Proposal> {
    const backend = await this.backend(call);
    return propose(call.concept, call.kind, { corefs: call.corefs, retains: call.retains }, backend, onProgress ? { onProgress } : {});
  }

  private async backend(call: ProposeCall): Promise<ProposerBackend> {
    const choice = call.backend;
    if (choice.kind === 'wordnet') return this.wordnet;
    if (choice.kind === 'prompt-api') throw new Error('The Prompt API runs on the page, not in the proposer worker.');
    const key = `${backendChoiceId(choice)} ${call.endpoint ?? ''}`;
    let backend = this.backends.get(key);
    if (!backend) {
      await this.options.prepareTransformers?.();
      const target = (await this.options.transformersTarget?.()) ?? {};
      backend = new TransformersProposer(choice.hubId, { ...target, ...(call.endpoint ? { endpoint: call.endpoint } : {}) });
      this.backends.set(key, backend);
    }
    return backend;
  }
}
