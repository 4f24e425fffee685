/**
 * Chrome's built-in language model (the Prompt API, `LanguageModel`), where the browser offers
 * it: nothing to download from us, the reply constrained to PROPOSAL_REPLY_SCHEMA by the browser
 * (responseConstraint), and parsed strictly anyway. Feature-detected: `promptApiAvailability()`
 * says whether the browser has it, and `propose` refuses with a clear message where it does not.
 * It runs on the page (the API is the browser's; it does not touch our GPU device).
 */
import { InputError } from '../../util/errors.ts';
import { proposerMessages } from './llm-prompt.ts';
import type { ProposalRequest, ProposeOptions, ProposerBackend, RawProposal } from './proposal.ts';
import { parseProposalReply, PROPOSAL_REPLY_SCHEMA } from './reply-parser.ts';

export const PROMPT_API_SOURCE = 'chrome-prompt-api';

export type PromptApiAvailability = 'unavailable' | 'downloadable' | 'downloading' | 'available';

/** The part of the Prompt API this backend uses (the spec is still a draft). */
export interface LanguageModelSession {
  prompt(input: string, options?: { responseConstraint?: unknown; signal?: AbortSignal }): Promise<string>;
  destroy(): void;
}
export interface LanguageModelFactory {
  availability(options?: Record<string, unknown>): Promise<PromptApiAvailability>;
  create(options?: {
    initialPrompts?: { role: 'system' | 'user' | 'assistant'; content: string }[];
    signal?: AbortSignal;
    monitor?: (target: EventTarget) => void;
  }): Promise<LanguageModelSession>;
}

/** The browser's LanguageModel, or null. */
export function findLanguageModel(scope: unknown = globalThis): LanguageModelFactory | null {
  const candidate = (scope as { LanguageModel?: unknown }).LanguageModel;
  return candidate && typeof (candidate as LanguageModelFactory).create === 'function' && typeof (candidate as LanguageModelFactory).availability === 'function'
    ? (candidate as LanguageModelFactory)
    : null;
}

export async function promptApiAvailability(factory: LanguageModelFactory | null = findLanguageModel()): Promise<PromptApiAvailability> {
  if (!factory) return 'unavailable';
  try {
    return await factory.availability();
  } catch {
    return 'unavailable';
  }
}

export class PromptApiProposer implements ProposerBackend {
  readonly id = 'prompt-api';
  readonly label = 'Chrome built-in model (Prompt API)';

  constructor(private readonly factory: LanguageModelFactory | null = findLanguageModel()) {}

  async propose(request: ProposalRequest, options: ProposeOptions = {}): Promise<RawProposal> {
    const availability = await promptApiAvailability(this.factory);
    if (!this.factory || availability === 'unavailable')
      throw new InputError('Chrome’s built-in language model (the Prompt API) is not available in this browser; choose WordNet or a hub model.');
    const [system, user] = proposerMessages(request);
    const session = await this.factory.create({
      initialPrompts: [{ role: 'system', content: system.content }],
      ...(options.signal ? { signal: options.signal } : {}),
      monitor: (target) =>
        target.addEventListener('downloadprogress', (event) => {
          const loaded = (event as unknown as { loaded?: number }).loaded ?? 0;
          options.onProgress?.({ phase: 'download', bytesDone: loaded, bytesTotal: 1, message: `Chrome is downloading its model (${Math.round(loaded * 100)}%)` });
        }),
    });
    try {
      options.onProgress?.({ phase: 'generate', message: 'Asking Chrome’s built-in model' });
      const raw = await session.prompt(user.content, { responseConstraint: PROPOSAL_REPLY_SCHEMA, ...(options.signal ? { signal: options.signal } : {}) });
      return parseProposalReply(raw, PROMPT_API_SOURCE);
    } finally {
      session.destroy();
    }
  }
}
