/**
 * A proposal as text, the way `lethe propose` prints it: the same order and labels as the
 * studio's chips, so the two can be compared line by line.
 */
import { CERTAINTY_WEIGHT } from './certainty.ts';
import type { EncoderCheck } from './encoder-check.ts';
import type { Proposal, Suggestion } from './proposal.ts';

export function formatProposal(proposal: Proposal): string {
  const lines = [`${proposal.kind} "${proposal.concept}" (source: ${proposal.source})`];
  const section = (title: string, list: readonly Suggestion[]) => {
    lines.push(`${title}:`);
    if (list.length === 0) lines.push('  (none)');
    for (const s of list) lines.push(`  ${s.certainty.padEnd(9)}  ${CERTAINTY_WEIGHT[s.certainty].toFixed(1)}  ${s.concept}`);
  };
  section('corefs (erased with it)', proposal.corefs);
  section('retains (kept)', proposal.retains);
  for (const note of proposal.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}

/** The encoder check of a proposal's corefs (lethe propose --pack), in the proposal's order. */
export function formatEncoderCheck(check: EncoderCheck, modelName: string): string {
  const lines = [`corefs as ${modelName}'s text encoder sees them (cosine similarity to "${check.concept}" / to the nearest kept concept):`];
  for (const c of check.candidates) {
    const kept = c.nearestKept ? `${c.nearestKept.similarity.toFixed(2)} ${c.nearestKept.concept}` : '(nothing kept)';
    lines.push(`  ${(c.confirmed ? 'use' : 'doubtful').padEnd(8)}  ${c.similarity.toFixed(2)} / ${kept.padEnd(16)}  ${c.concept}`);
  }
  const doubted = check.candidates.filter((c) => !c.confirmed).map((c) => c.concept);
  lines.push(
    doubted.length === 0
      ? 'note: every coref is nearer the concept than any kept concept'
      : `note: ${doubted.join(', ')}: nearer a kept concept than "${check.concept}" in this model; the studio leaves them unticked (erasing them would move the kept concept)`,
  );
  return lines.join('\n');
}
