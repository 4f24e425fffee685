/**
 * Plain words for form problems: a field named as the user sees it ("the weight of "cat""), never
 * as a data path ("targets[0].weight"), and an empty number box called empty, never "NaN".
 */
import type { ConceptForm } from './concept-form.ts';

/** "it is empty" for a blank number box (NaN), otherwise "it is <value>". */
export function describeEntered(value: number): string {
  if (Number.isNaN(value)) return 'it is empty';
  return `it is ${value}`;
}

/**
 * The field a concept-set path names, in the words of the concept panel. `form` supplies the
 * concept texts, so a weight is "the weight of "cat"" rather than "target 1's weight".
 */
export function fieldInWords(path: string, form?: ConceptForm): string {
  const parts = [...path.matchAll(/([a-zA-Z]+)(?:\[(\d+)\])?/g)].map((m) => ({ key: m[1], index: m[2] === undefined ? null : Number(m[2]) }));
  if (parts.length === 0) return path;
  const [head, second, third] = parts;
  const targetName = (i: number) => quoted(nonBlankTargets(form)[i]?.concept) ?? `target ${i + 1}`;
  if (head.key === 'targets' && head.index !== null) {
    const target = targetName(head.index);
    if (!second) return `the target ${target}`;
    if (second.key === 'corefs' && second.index !== null) {
      const coref = quoted(nonBlankTargets(form)[head.index]?.corefs[second.index]?.concept) ?? `coref ${second.index + 1} of ${target}`;
      return third?.key === 'weight' ? `the weight of the coref ${coref}` : `the coref ${coref}`;
    }
    if (second.key === 'weight') return `the weight of ${target}`;
    if (second.key === 'anchor') return `the anchor of ${target}`;
    if (second.key === 'concept') return `the target ${target}`;
    return `${second.key} of ${target}`;
  }
  const lists: Record<string, { noun: string; chips: (f: ConceptForm) => { concept: string }[] }> = {
    retains: { noun: 'retained concept', chips: (f) => f.retains },
    preserve: { noun: 'preserved concept', chips: (f) => f.preserve },
  };
  const list = lists[head.key];
  if (list && head.index !== null) {
    const name = quoted(form ? list.chips(form)[head.index]?.concept : undefined) ?? String(head.index + 1);
    return second?.key === 'weight' ? `the weight of the ${list.noun} ${name}` : `the ${list.noun} ${name}`;
  }
  if (head.key === 'kind') return 'the kind (object, style, ...)';
  if (head.key === 'targets') return 'the concept to erase';
  return path;
}

/**
 * Rewrites a parser message "source: path: detail" into "<field in words>: <detail>", with
 * "got NaN"/"got null" (an empty box) said as "it is empty". Other messages pass through.
 */
export function messageInWords(message: string, form?: ConceptForm): string {
  const match = /^[\w.-]+: ((?:targets|retains|preserve|kind)(?:\[\d+\])?(?:\.[\w]+(?:\[\d+\])?)*): (.*)$/s.exec(message.split('\n')[0]);
  const text = match ? `${capitalize(fieldInWords(match[1], form))}: ${match[2]}` : message;
  return text.replace(/,? got (NaN|null)\b/g, ', but it is empty').replace(/\bexpected a finite number > 0\b/g, 'expected a number above 0');
}

function nonBlankTargets(form?: ConceptForm): ConceptForm['targets'] {
  return form ? form.targets.filter((t) => t.concept.trim() !== '') : [];
}

function quoted(text: string | undefined): string | undefined {
  return text === undefined || text.trim() === '' ? undefined : `"${text.trim()}"`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
