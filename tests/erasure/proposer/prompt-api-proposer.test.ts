import { describe, expect, test } from 'vitest';
import { parseBackendChoice } from '../../../src/erasure/proposer/backends.ts';
import { PROPOSER_SYSTEM_PROMPT } from '../../../src/erasure/proposer/llm-prompt.ts';
import { propose } from '../../../src/erasure/proposer/propose.ts';
import { findLanguageModel, PromptApiProposer, promptApiAvailability, type LanguageModelFactory, type PromptApiAvailability } from '../../../src/erasure/proposer/prompt-api-proposer.ts';
import { PROPOSAL_REPLY_SCHEMA, ProposalReplyError } from '../../../src/erasure/proposer/reply-parser.ts';

/** A stand-in for Chrome's LanguageModel that records what it was asked and replies `reply`. */
function fakeLanguageModel(reply: string, availability: PromptApiAvailability = 'available') {
  const seen: { initialPrompts?: unknown; input?: string; constraint?: unknown; destroyed: boolean } = { destroyed: false };
  const factory: LanguageModelFactory = {
    availability: async () => availability,
    create: async (options) => {
      seen.initialPrompts = options?.initialPrompts;
      const monitor = new EventTarget();
      options?.monitor?.(monitor);
      monitor.dispatchEvent(Object.assign(new Event('downloadprogress'), { loaded: 0.5 }));
      return {
        prompt: async (input, promptOptions) => {
          seen.input = input;
          seen.constraint = promptOptions?.responseConstraint;
          return reply;
        },
        destroy: () => void (seen.destroyed = true),
      };
    },
  };
  return { factory, seen };
}

describe("Chrome's Prompt API backend", () => {
  test('asks with the shared prompt, constrains the reply to the schema, and parses it', async () => {
    const { factory, seen } = fakeLanguageModel('{"corefs":[{"concept":"Starry Night","certainty":"Very High"}],"retains":[{"concept":"Claude Monet","certainty":"High"}]}');
    const progress: string[] = [];
    const proposal = await propose('Van Gogh', 'style', { corefs: 5, retains: 5 }, new PromptApiProposer(factory), { onProgress: (p) => progress.push(p.message) });
    expect(proposal.corefs).toEqual([{ concept: 'Starry Night', certainty: 'Very High', source: 'chrome-prompt-api' }]);
    expect(proposal.retains).toEqual([{ concept: 'Claude Monet', certainty: 'High', source: 'chrome-prompt-api' }]);
    expect(seen.initialPrompts).toEqual([{ role: 'system', content: PROPOSER_SYSTEM_PROMPT }]);
    expect(seen.input).toBe('Concept: "Van Gogh" (an artistic style or an artist (how a picture is painted)). Give up to 5 corefs and up to 5 retains.');
    expect(seen.constraint).toBe(PROPOSAL_REPLY_SCHEMA);
    expect(seen.destroyed).toBe(true);
    expect(progress).toContain('Chrome is downloading its model (50%)');
  });

  test('a reply that is not a proposal is an error with the raw text; the session is still closed', async () => {
    const { factory, seen } = fakeLanguageModel('I cannot help with that.');
    const error = await propose('cat', 'object', { corefs: 5, retains: 5 }, new PromptApiProposer(factory)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProposalReplyError);
    expect((error as ProposalReplyError).raw).toBe('I cannot help with that.');
    expect(seen.destroyed).toBe(true);
  });

  test('feature detection: no LanguageModel (Node, most browsers) means unavailable, and propose says so', async () => {
    expect(findLanguageModel({})).toBeNull();
    expect(findLanguageModel({ LanguageModel: { create: 1 } })).toBeNull();
    expect(await promptApiAvailability(null)).toBe('unavailable');
    expect(await promptApiAvailability(fakeLanguageModel('', 'downloadable').factory)).toBe('downloadable');
    await expect(propose('cat', 'object', { corefs: 5, retains: 5 }, new PromptApiProposer(null))).rejects.toThrow(/not available in this browser; choose WordNet or a hub model/);
    await expect(propose('cat', 'object', { corefs: 5, retains: 5 }, new PromptApiProposer(fakeLanguageModel('', 'unavailable').factory))).rejects.toThrow(/not available/);
  });
});

describe('backend names', () => {
  test.each([
    ['wordnet', { kind: 'wordnet' }],
    ['prompt-api', { kind: 'prompt-api' }],
    ['transformers', { kind: 'transformers', hubId: 'onnx-community/Qwen2.5-0.5B-Instruct' }],
    ['transformers:me/tiny-llm', { kind: 'transformers', hubId: 'me/tiny-llm' }],
  ])('%s', (text, choice) => expect(parseBackendChoice(text)).toEqual(choice));

  test('bad names say what is expected', () => {
    expect(() => parseBackendChoice('gpt-4')).toThrow(/backend: expected wordnet, prompt-api or transformers:OWNER\/NAME, got "gpt-4"/);
    expect(() => parseBackendChoice('transformers:no-slash')).toThrow(/expected transformers:OWNER\/NAME/);
  });
});
