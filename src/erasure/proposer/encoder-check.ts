/**
 * The model's own view of a proposal. A proposer (WordNet, an LLM) knows words; the closed form
 * and the fine-tuning objectives act on the model's text embeddings. A coref that the model's
 * text encoder places nearer a concept the user keeps than the concept itself is not erased
 * "with" the concept: mapping it to the anchor moves the kept concept instead. On the concept
 * world, WordNet's corefs for "cat" include words its captions never used ("Siamese", "ocelot",
 * "domestic cat"); their embeddings sit nearer "monkey" or "mouse" than "cat", and erasing them
 * with "cat" took the kept classes from 65% to 13% (bench/proposer-effect.ts).
 *
 * A concept's embedding here is the mean, over the kind's prompt templates (the ones the closed
 * form uses), of the encoder's output rows of the subject tokens. A candidate is confirmed when
 * its cosine similarity to the concept exceeds its similarity to every kept concept; with
 * nothing kept, every candidate is confirmed (there is nothing to compare with).
 */
import type { ConceptKind } from '../concept-sets.ts';
import { dot } from '../linalg/dot.ts';
import type { ErasureEncoder } from '../problem-builder.ts';
import { fillTemplate, PROMPT_TEMPLATES } from '../prompt-templates.ts';
import { subjectTokenSpan } from '../subject-span.ts';

export interface EncoderCheckRequest {
  readonly concept: string;
  readonly kind: ConceptKind;
  /** Proposed corefs to check. */
  readonly candidates: readonly string[];
  /** Concepts the edit keeps (retains): a candidate nearer one of these is not confirmed. */
  readonly kept: readonly string[];
}

export interface CandidateCheck {
  readonly concept: string;
  /** Cosine similarity to the concept, in [-1, 1]. */
  readonly similarity: number;
  /** The kept concept most similar to the candidate (null with nothing kept). */
  readonly nearestKept: { readonly concept: string; readonly similarity: number } | null;
  readonly confirmed: boolean;
}

export interface EncoderCheck {
  readonly concept: string;
  readonly candidates: readonly CandidateCheck[];
}

/** Where the embeddings come from: the pack's text encoder, as the closed form reads it. */
export interface EncoderCheckSource {
  readonly encoder: ErasureEncoder;
  /** Rows x width of one encoded prompt (77 x textHidden). */
  readonly tokens: number;
  readonly width: number;
}

export async function checkCandidates(source: EncoderCheckSource, request: EncoderCheckRequest): Promise<EncoderCheck> {
  const words = [...new Set([request.concept, ...request.candidates, ...request.kept].map((w) => w.trim()).filter((w) => w !== ''))];
  const vectors = await subjectEmbeddings(source, words, PROMPT_TEMPLATES[request.kind]);
  const vectorOf = (word: string) => vectors.get(word.trim())!;
  const target = vectorOf(request.concept);
  const kept = request.kept.map((k) => k.trim()).filter((k) => k !== '');
  const candidates = request.candidates
    .filter((c) => c.trim() !== '')
    .map((candidate): CandidateCheck => {
      const v = vectorOf(candidate);
      const similarity = cosine(v, target);
      let nearestKept: CandidateCheck['nearestKept'] = null;
      for (const k of kept) {
        if (k === candidate.trim()) continue;
        const s = cosine(v, vectorOf(k));
        if (nearestKept === null || s > nearestKept.similarity) nearestKept = { concept: k, similarity: s };
      }
      return { concept: candidate, similarity, nearestKept, confirmed: nearestKept === null || similarity > nearestKept.similarity };
    });
  return { concept: request.concept, candidates };
}

/** Per word, the mean over templates of the mean of its subject rows (float64). */
async function subjectEmbeddings(source: EncoderCheckSource, words: readonly string[], templates: readonly string[]): Promise<Map<string, Float64Array>> {
  const prompts = words.flatMap((word) => templates.map((template) => fillTemplate(template, word)));
  const encoded = await source.encoder.encode(prompts.map((p) => p.text));
  const out = new Map<string, Float64Array>();
  prompts.forEach((prompt, i) => {
    const { subject } = subjectTokenSpan(prompt, source.encoder.tokenize, source.tokens);
    const sum = out.get(prompt.concept) ?? new Float64Array(source.width);
    const rows = subject.end - subject.start;
    for (let row = subject.start; row < subject.end; row++)
      for (let c = 0; c < source.width; c++) sum[c] += encoded[i][row * source.width + c] / (rows * templates.length);
    out.set(prompt.concept, sum);
  });
  return out;
}

function cosine(a: Float64Array, b: Float64Array): number {
  const norms = dot(a, 0, a, 0, a.length) * dot(b, 0, b, 0, b.length);
  return norms === 0 ? 0 : dot(a, 0, b, 0, a.length) / Math.sqrt(norms);
}
