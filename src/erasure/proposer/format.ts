/**
 * A proposal as text, the way `lethe propose` prints it: the same order and labels as the
 * studio's chips, so the two can be compared line by line.
 */
import { CERTAINTY_WEIGHT } from './certainty.ts';
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
