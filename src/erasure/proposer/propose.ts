/**
 * The one entry point the studio and the CLI share: validate the request, ask a backend, and
 * clean up what it returned the same way for every backend (so `lethe propose` and the studio
 * print the same list): concepts deduplicated case-insensitively, the target itself (and its
 * plural) removed, a concept proposed both as coref and as retain kept as a coref only, surest
 * first, at most M corefs and N retains.
 */
import { InputError } from '../../util/errors.ts';
import { CONCEPT_KINDS, type ConceptKind } from '../concept-sets.ts';
import { certaintyRank } from './certainty.ts';
import { MAX_SUGGESTIONS, type Proposal, type ProposalRequest, type ProposeOptions, type ProposerBackend, type RawProposal, type Suggestion } from './proposal.ts';

export async function propose(
  concept: string,
  kind: ConceptKind,
  limits: { corefs: number; retains: number },
  backend: ProposerBackend,
  options: ProposeOptions = {},
): Promise<Proposal> {
  const request = checkRequest({ concept, kind, corefs: limits.corefs, retains: limits.retains });
  const raw = await backend.propose(request, options);
  return finalizeProposal(request, backend.id, raw);
}

export function checkRequest(request: ProposalRequest): ProposalRequest {
  const concept = typeof request.concept === 'string' ? request.concept.trim().replace(/\s+/g, ' ') : '';
  if (concept === '') throw new InputError('propose: concept: expected a concept to find corefs and retains for, got nothing');
  if (concept.length > 100) throw new InputError(`propose: concept: expected at most 100 characters, got ${concept.length}`);
  if (!(CONCEPT_KINDS as readonly string[]).includes(request.kind)) throw new InputError(`propose: kind: expected one of ${CONCEPT_KINDS.join(', ')}, got ${JSON.stringify(request.kind)}`);
  for (const field of ['corefs', 'retains'] as const) {
    const value = request[field];
    if (!Number.isInteger(value) || value < 0 || value > MAX_SUGGESTIONS) throw new InputError(`propose: ${field}: expected a whole number in 0..${MAX_SUGGESTIONS}, got ${value}`);
  }
  return { ...request, concept };
}

export function finalizeProposal(request: ProposalRequest, source: string, raw: RawProposal): Proposal {
  const target = conceptKey(request.concept);
  const notes = [...raw.notes];
  const seen = new Set<string>([target]);
  const clean = (list: readonly Suggestion[]): Suggestion[] => {
    const kept: Suggestion[] = [];
    // Stable sort: a backend's own order breaks ties within one certainty.
    for (const item of [...list].sort((a, b) => certaintyRank(a.certainty) - certaintyRank(b.certainty))) {
      const concept = item.concept.trim().replace(/\s+/g, ' ');
      const key = conceptKey(concept);
      if (concept === '' || seen.has(key)) continue;
      seen.add(key);
      kept.push({ ...item, concept });
    }
    return kept;
  };
  const corefs = clean(raw.corefs).slice(0, request.corefs);
  const retains = clean(raw.retains).slice(0, request.retains);
  if (corefs.length === 0 && retains.length === 0 && notes.length === 0) notes.push(`No suggestions for "${request.concept}".`);
  return { concept: request.concept, kind: request.kind, source, corefs, retains, notes };
}

/** Case, spacing, hyphens and a plural "s" do not make a different concept. */
export function conceptKey(concept: string): string {
  const key = concept.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
  if (key.endsWith('ies') && key.length > 4) return `${key.slice(0, -3)}y`;
  if (/(ches|shes|sses|xes)$/.test(key)) return key.slice(0, -2);
  if (key.endsWith('s') && !key.endsWith('ss') && key.length > 3) return key.slice(0, -1);
  return key;
}
