/**
 * An edit said in plain words first ("cat and 3 related concepts mapped to the empty prompt;
 * 9 other concepts held in place"), with the numbers in a second, detail line.
 */
import type { EditSummary } from '../engine/api.ts';
import type { ErasureRecipe } from '../erasure/recipe.ts';

export interface EditWords {
  headline: string;
  detail: string;
}

export function editInWords(recipe: ErasureRecipe, summary: EditSummary): EditWords {
  const { targets, retains, preserve } = recipe.concepts;
  const names = targets.map((t) => `"${t.concept}"`);
  const corefs = targets.reduce((n, t) => n + t.corefs.length, 0);
  const anchors = [...new Set(targets.map((t) => t.anchor))];
  const anchorWords = anchors.length === 1 ? (anchors[0] === '' ? 'the empty prompt' : `"${anchors[0]}"`) : 'their anchors';
  const erased = `${list(names)}${corefs > 0 ? ` and ${plural(corefs, 'related concept')}` : ''}`;
  const kept = retains.length + preserve.length;
  let headline = `${erased} mapped to ${anchorWords}`;
  if (recipe.prompts?.sharedRows === 'keep')
    headline += `; ${kept > 0 ? `${plural(kept, 'other concept')} and ` : ''}the shared rows (empty prompt, template words) held in place`;
  else headline += kept > 0 ? `; ${plural(kept, 'other concept')} held in place` : '; nothing else held in place explicitly';
  if (recipe.method === 'realera' && summary.neighbors + summary.beyond > 0)
    headline += `, plus ${plural(summary.neighbors, 'nearby sample')} erased with it and ${plural(summary.beyond, 'far-away sample')} kept (RealEra)`;
  headline += '.';
  const method = recipe.method === 'realera' ? 'RealEra' : 'UCE';
  const detail =
    `${method} closed form: rank-${summary.rank} change of the cross-attention K/V weights (W′ = W·M) from ${summary.eraseVectors} erase and ${summary.preserveVectors} preserve vectors; ` +
    `lambda ${recipe.closedForm.lambda}, erase scale ${recipe.closedForm.eraseScale}, preserve scale ${recipe.closedForm.preserveScale}; ${summary.solver} solver; ${seconds(summary.ms.total)}.`;
  return { headline, detail };
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
