/**
 * Backend choice as the CLI's --backend and the studio's selector spell it: "wordnet",
 * "prompt-api" or "transformers:OWNER/NAME". Parsing is shared so both accept the same names.
 */
import { InputError } from '../../util/errors.ts';
import { DEFAULT_PROPOSER_MODEL } from './transformers-proposer.ts';

export type BackendChoice = { kind: 'wordnet' } | { kind: 'prompt-api' } | { kind: 'transformers'; hubId: string };

export const DEFAULT_BACKEND: BackendChoice = { kind: 'wordnet' };

export function parseBackendChoice(text: string): BackendChoice {
  const value = text.trim();
  if (value === 'wordnet') return { kind: 'wordnet' };
  if (value === 'prompt-api') return { kind: 'prompt-api' };
  if (value === 'transformers') return { kind: 'transformers', hubId: DEFAULT_PROPOSER_MODEL };
  if (value.startsWith('transformers:')) {
    const hubId = value.slice('transformers:'.length).trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(hubId))
      throw new InputError(`backend: expected transformers:OWNER/NAME (a hub id such as ${DEFAULT_PROPOSER_MODEL}), got ${JSON.stringify(value)}`);
    return { kind: 'transformers', hubId };
  }
  throw new InputError(`backend: expected wordnet, prompt-api or transformers:OWNER/NAME, got ${JSON.stringify(value)}`);
}

export function backendChoiceId(choice: BackendChoice): string {
  return choice.kind === 'transformers' ? `transformers:${choice.hubId}` : choice.kind;
}
