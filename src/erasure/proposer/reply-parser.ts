/**
 * An LLM's reply is data, never instructions: it is parsed against the proposal schema and
 * everything that does not fit is dropped and counted in the notes, never followed. Accepted:
 * the JSON object alone, inside one ``` fence, or with chatter around it (the outermost {...}).
 * Each list item must be {"concept": string, "certainty": one of the five labels}; a concept
 * must look like a short noun phrase (letters, digits, spaces, ' - . &; at most 6 words and 60
 * characters) and must not read like an instruction ("ignore the previous ...", URLs, markup).
 * A reply with no JSON object, or one without corefs/retains arrays, is a ProposalReplyError
 * carrying the raw text so the user sees what the model said.
 */
import { parseCertainty } from './certainty.ts';
import type { RawProposal, Suggestion } from './proposal.ts';

export class ProposalReplyError extends Error {
  override readonly name = 'ProposalReplyError';
  constructor(
    readonly source: string,
    readonly detail: string,
    readonly raw: string,
  ) {
    super(`${source}: the reply is not a proposal (${detail}). The model replied:\n${raw.length > 2000 ? `${raw.slice(0, 2000)}…` : raw}`);
  }
}

const ITEM_SCHEMA = {
  type: 'object',
  properties: {
    concept: { type: 'string', minLength: 1, maxLength: 60 },
    certainty: { type: 'string', enum: ['Very High', 'High', 'Normal', 'Low', 'Very Low'] },
  },
  required: ['concept', 'certainty'],
  additionalProperties: false,
} as const;

/**
 * The JSON schema the reply must follow (the Prompt API's responseConstraint takes it as is;
 * written out without $ref, which not every constrained decoder resolves).
 */
export const PROPOSAL_REPLY_SCHEMA = {
  type: 'object',
  properties: {
    corefs: { type: 'array', items: ITEM_SCHEMA },
    retains: { type: 'array', items: ITEM_SCHEMA },
  },
  required: ['corefs', 'retains'],
  additionalProperties: false,
} as const;

const MAX_REPLY_CHARS = 64 * 1024;
const MAX_ITEMS_READ = 64;
const CONCEPT_SHAPE = /^[\p{L}\p{N}][\p{L}\p{N}\p{M} '’.&-]*$/u;
const INSTRUCTION_LIKE =
  /\b(ignore|disregard|instructions?|prompts?|assistant|json|previous|override|jailbreak|password|erase everything|delete|execute|script|https?|www)\b/i;

export function parseProposalReply(raw: string, source: string): RawProposal {
  if (typeof raw !== 'string') throw new ProposalReplyError(source, 'expected text', String(raw));
  if (raw.length > MAX_REPLY_CHARS) throw new ProposalReplyError(source, `${raw.length} characters is more than the ${MAX_REPLY_CHARS} a proposal can be`, raw);
  const value = extractJson(raw, source);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProposalReplyError(source, 'expected a JSON object with "corefs" and "retains"', raw);
  const record = value as Record<string, unknown>;
  const corefsValue = record.corefs;
  const retainsValue = record.retains;
  if (!Array.isArray(corefsValue) && !Array.isArray(retainsValue)) throw new ProposalReplyError(source, 'expected "corefs" and "retains" arrays', raw);
  const dropped: string[] = [];
  const read = (list: unknown, field: string): Suggestion[] => {
    if (list === undefined) return [];
    if (!Array.isArray(list)) {
      dropped.push(`"${field}" was not a list`);
      return [];
    }
    const out: Suggestion[] = [];
    list.slice(0, MAX_ITEMS_READ).forEach((item, i) => {
      const problem = itemProblem(item);
      if (problem) dropped.push(`${field}[${i}] (${problem})`);
      else {
        const { concept, certainty } = item as { concept: string; certainty: string };
        out.push({ concept: concept.trim().replace(/\s+/g, ' '), certainty: parseCertainty(certainty)!, source });
      }
    });
    if (list.length > MAX_ITEMS_READ) dropped.push(`${list.length - MAX_ITEMS_READ} ${field} past the first ${MAX_ITEMS_READ}`);
    return out;
  };
  const corefs = read(corefsValue, 'corefs');
  const retains = read(retainsValue, 'retains');
  const extra = Object.keys(record).filter((key) => key !== 'corefs' && key !== 'retains');
  const notes: string[] = [];
  if (dropped.length > 0) notes.push(`Ignored from the reply: ${dropped.join('; ')}.`);
  if (extra.length > 0) notes.push(`Ignored fields of the reply: ${extra.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}.`);
  return { corefs, retains, notes };
}

function itemProblem(item: unknown): string | null {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return 'not a {concept, certainty} object';
  const { concept, certainty } = item as Record<string, unknown>;
  if (typeof concept !== 'string') return 'no concept string';
  const text = concept.trim().replace(/\s+/g, ' ');
  if (text === '') return 'empty concept';
  if (text.length > 60 || text.split(' ').length > 6) return 'too long for a concept';
  if (!CONCEPT_SHAPE.test(text)) return 'not a plain noun phrase';
  if (INSTRUCTION_LIKE.test(text)) return 'reads like an instruction, not a concept';
  if (parseCertainty(certainty) === null) return `certainty ${JSON.stringify(certainty)} is not one of Very High, High, Normal, Low, Very Low`;
  return null;
}

function extractJson(raw: string, source: string): unknown {
  const text = raw.trim();
  const attempts: string[] = [text];
  const fence = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fence) attempts.push(fence[1].trim());
  const open = text.indexOf('{');
  const close = text.lastIndexOf('}');
  if (open >= 0 && close > open) attempts.push(text.slice(open, close + 1));
  let lastError = 'no JSON object in it';
  for (const attempt of attempts) {
    if (!attempt.startsWith('{')) continue;
    try {
      return JSON.parse(attempt);
    } catch (error) {
      lastError = `not JSON: ${(error as Error).message}`;
    }
  }
  throw new ProposalReplyError(source, lastError, raw);
}
