/**
 * The offline lexical backend: WordNet 3.1 nouns, always available, no model. For the concept's
 * most common depictable sense:
 *   corefs   Very High  the other lemmas of its synset ("true cat")
 *            High       lemmas of its direct hyponyms and instances ("domestic cat", "wildcat")
 *            Normal     lemmas two levels down ("kitten", "tabby", "Siamese cat")
 *            Low        its hypernym, when that is a near synonym (at most 2 hyponyms: "feline")
 *   retains  High       siblings under the same hypernym ("big cat")
 *            Normal     the siblings' children and the hypernym's siblings ("lion", "canine")
 *            Low        cousins: children of the hypernym's siblings ("dog", "bear")
 * Within a certainty, concepts used more often in WordNet's tagged corpus come first; retains are
 * picked by that usage too (a cousin as common as "dog" beats an obscure sibling), so the list
 * holds what a prompt would actually say. Styles, artists and people are beyond a dictionary: the
 * backend says so instead of guessing.
 */
import type { Certainty } from './certainty.ts';
import type { ProposalRequest, ProposeOptions, ProposerBackend, RawProposal, Suggestion } from './proposal.ts';
import { conceptKey } from './propose.ts';
import { LEXFILE, WordNetIndex } from './wordnet-index.ts';

export const WORDNET_SOURCE = 'wordnet-3.1';

/** Reads the index text (fetch in the browser, the file in Node). */
export type WordNetIndexLoader = () => Promise<string>;

/** Senses a picture can show, preferred over the others when a word has several. */
const DEPICTABLE = new Set<number>([LEXFILE.animal, LEXFILE.artifact, LEXFILE.body, LEXFILE.food, LEXFILE.object, LEXFILE.plant, LEXFILE.phenomenon, LEXFILE.substance]);

interface Candidate {
  synset: number;
  certainty: Certainty;
  /** Higher is picked first. */
  score: number;
}

export class WordNetProposer implements ProposerBackend {
  readonly id = 'wordnet';
  readonly label = 'WordNet 3.1 (offline)';
  private index: Promise<WordNetIndex> | null = null;

  constructor(private readonly load: WordNetIndexLoader) {}

  /** The parsed index, loaded on first use and kept. */
  wordnet(): Promise<WordNetIndex> {
    this.index ??= this.load()
      .then((text) => WordNetIndex.parse(text))
      .catch((error: unknown) => {
        this.index = null;
        throw error;
      });
    return this.index;
  }

  async propose(request: ProposalRequest, options: ProposeOptions = {}): Promise<RawProposal> {
    if (request.kind !== 'object')
      return {
        corefs: [],
        retains: [],
        notes: [
          `WordNet cannot know ${request.kind === 'style' ? 'an artist’s works, styles or influences' : 'who a person is or who resembles them'}: it is a dictionary of words. ` +
            'No suggestions; use a language model backend for styles and people.',
        ],
      };
    options.onProgress?.({ phase: 'load', message: 'Reading the WordNet index' });
    const wn = await this.wordnet();
    options.signal?.throwIfAborted();
    const senses = wn.lookup(request.concept);
    if (senses.length === 0)
      return {
        corefs: [],
        retains: [],
        notes: [`No suggestions: "${request.concept}" is not a noun for something depictable in WordNet 3.1 (names of people, artists and styles are beyond a dictionary).`],
      };
    const sense = senses.find((s) => DEPICTABLE.has(wn.lexfiles[s])) ?? senses[0];
    const notes: string[] = [];
    if (senses.length > 1) notes.push(`WordNet sense used: ${describeSense(wn, sense)} (one of ${senses.length}).`);
    const target = conceptKey(request.concept);
    // Corpus usage, and a little for short names: "kitty" is said more often than "Egyptian cat".
    const usage = (synset: number) => Math.log2(1 + wn.tagCounts[synset]) + 0.5 / wn.name(synset).split(' ').length;

    // Corefs: the synset itself and what lies below it, then a near-synonym hypernym.
    const corefs: Candidate[] = [];
    const below = new Set<number>([sense]);
    corefs.push({ synset: sense, certainty: 'Very High', score: 0 });
    for (const child of wn.children(sense)) {
      below.add(child);
      corefs.push({ synset: child, certainty: 'High', score: usage(child) });
    }
    for (const child of wn.children(sense))
      for (const grandchild of wn.children(child)) {
        if (below.has(grandchild)) continue;
        below.add(grandchild);
        corefs.push({ synset: grandchild, certainty: 'Normal', score: usage(grandchild) });
      }
    for (const parent of wn.parents(sense)) if (wn.children(parent).length <= 2 && wn.parents(parent).length > 0) corefs.push({ synset: parent, certainty: 'Low', score: usage(parent) });
    const corefSynsets = new Set(corefs.map((c) => c.synset));

    // Retains: siblings, their children, the parents' siblings and their children (cousins).
    const retains: Candidate[] = [];
    const taken = new Set<number>(corefSynsets);
    const offer = (synset: number, certainty: Certainty, distancePenalty: number) => {
      if (taken.has(synset) || wn.isInstance(synset)) return;
      taken.add(synset);
      retains.push({ synset, certainty, score: usage(synset) - distancePenalty });
    };
    // Only the first parent: a second one is usually a role ("dog" is also a "domestic animal"),
    // whose other members ("head", "female") are no neighbors of the concept.
    const primary = wn.parents(sense).slice(0, 1);
    const parents = primary.filter((p) => !corefSynsets.has(p));
    const nearParents = primary.filter((p) => corefSynsets.has(p));
    // A near-synonym parent ("feline") is a coref: its parent's children are the siblings then.
    const siblingParents = [...parents, ...nearParents.flatMap((p) => wn.parents(p))];
    for (const parent of siblingParents) for (const sibling of wn.children(parent)) offer(sibling, 'High', 0);
    for (const parent of siblingParents) for (const sibling of wn.children(parent)) for (const niece of wn.children(sibling)) offer(niece, 'Normal', 1);
    for (const parent of siblingParents)
      for (const grandparent of wn.parents(parent)) for (const aunt of wn.children(grandparent)) offer(aunt, 'Normal', 1);
    for (const parent of siblingParents)
      for (const grandparent of wn.parents(parent)) for (const aunt of wn.children(grandparent)) for (const cousin of wn.children(aunt)) offer(cousin, 'Low', 2);

    const toSuggestions = (list: Candidate[], count: number, allLemmas: boolean): Suggestion[] => {
      // Pick the most used first, then show them surest first (finalizeProposal sorts stably).
      const picked = [...list].sort((a, b) => rank(a) - rank(b) || b.score - a.score).slice(0, Math.max(count * 3, count + 8));
      const out: Suggestion[] = [];
      for (const c of picked) {
        const names = allLemmas ? wn.lemmas[c.synset] : [wn.name(c.synset)];
        for (const concept of names) if (conceptKey(concept) !== target) out.push({ concept, certainty: c.certainty, source: WORDNET_SOURCE });
      }
      return out;
    };
    const retainPicks = [...retains].sort((a, b) => b.score - a.score).slice(0, request.retains);
    return {
      corefs: toSuggestions(corefs, request.corefs, true),
      retains: toSuggestions(retainPicks, request.retains, false),
      notes,
    };
  }
}

function rank(c: Candidate): number {
  return ['Very High', 'High', 'Normal', 'Low', 'Very Low'].indexOf(c.certainty);
}

function describeSense(wn: WordNetIndex, synset: number): string {
  const parent = wn.parents(synset)[0];
  const names = wn.lemmas[synset].slice(0, 3).join(', ');
  return parent === undefined ? `"${names}"` : `"${names}" (a kind of ${wn.name(parent)})`;
}
