/**
 * The fine-tuning recipe section, the objectives' step plans and the checkpoint file, without a
 * GPU: what each objective asks of a step (terms, weights, targets, latents) follows the papers,
 * plans are pure functions of (recipe, step), and state survives a checkpoint round trip.
 */
import { describe, expect, test } from 'vitest';
import { defineConceptSet } from '../../../src/erasure/concept-sets.ts';
import { PROMPT_TEMPLATES } from '../../../src/erasure/prompt-templates.ts';
import { REALERA_DEFAULTS } from '../../../src/erasure/realera.ts';
import { LETHE_VERSION, parseRecipe, RECIPE_FORMAT, serializeRecipe, type ErasureRecipe } from '../../../src/erasure/recipe.ts';
import { CERTAINTY_WEIGHTS, fineTuneDefaults, parseFineTuneOptions, type FineTuneOptions } from '../../../src/erasure/fine-tune/fine-tune-options.ts';
import { objectiveFor } from '../../../src/erasure/fine-tune/objectives.ts';
import { realEraWindow } from '../../../src/erasure/fine-tune/realera-alignment.ts';
import type { ObjectiveContext } from '../../../src/erasure/fine-tune/objective.ts';
import { sampleWithoutReplacement, stepRandom, type LossTerm } from '../../../src/erasure/fine-tune/loss-terms.ts';
import { decodeCheckpoint, encodeCheckpoint, type FineTuneCheckpoint } from '../../../src/erasure/fine-tune/fine-tune-checkpoint.ts';
import { FormatError, InputError } from '../../../src/util/errors.ts';
import { SeededRandom } from '../../../src/util/random.ts';

const concepts = defineConceptSet({
  kind: 'object',
  targets: [
    {
      concept: 'cat',
      anchor: 'animal',
      corefs: [
        { concept: 'kitten', weight: CERTAINTY_WEIGHTS['very high'] },
        { concept: 'tabby', weight: CERTAINTY_WEIGHTS.high },
        { concept: 'feline', weight: CERTAINTY_WEIGHTS.normal },
        { concept: 'kitty', weight: CERTAINTY_WEIGHTS.low },
        { concept: 'moggy', weight: CERTAINTY_WEIGHTS['very low'] },
        { concept: 'tomcat', weight: CERTAINTY_WEIGHTS.high },
      ],
    },
  ],
  retains: [{ concept: 'dog', weight: 1 }, { concept: 'horse', weight: 0.8 }, { concept: 'tiger', weight: 0.6 }, { concept: 'lion', weight: 0.4 }],
});

function context(options: Partial<FineTuneOptions>, embed: (text: string) => Promise<Float32Array> = async () => new Float32Array(0)): ObjectiveContext {
  return { options: { ...fineTuneDefaults(options.objective ?? 'esd-x', 8), ...options }, concepts, templates: PROMPT_TEMPLATES.object, realera: REALERA_DEFAULTS, numTrainTimesteps: 1000, embed };
}

function recipe(fineTune: FineTuneOptions | null): ErasureRecipe {
  return {
    format: RECIPE_FORMAT,
    version: 1,
    lethe: LETHE_VERSION,
    pack: { sha256: 'cd'.repeat(32), family: 'tiny-sd15' },
    concepts,
    method: 'uce',
    prompts: { templates: [...PROMPT_TEMPLATES.object], tokens: 'subject' },
    realera: null,
    closedForm: { lambda: 0.5, eraseScale: 1, preserveScale: 0.1, solver: 'woodbury' },
    fineTune,
  };
}

describe('the fineTune section of a recipe', () => {
  test('round-trips in canonical bytes; a recipe without it keeps its bytes', () => {
    const plain = serializeRecipe(recipe(null));
    expect(plain).not.toContain('fineTune');
    const withoutKey = { ...recipe(null) };
    delete (withoutKey as { fineTune?: unknown }).fineTune;
    expect(serializeRecipe(withoutKey)).toBe(plain);
    const options = { ...fineTuneDefaults('crce', 8), steps: 7, seed: 42, learningRate: 3e-4 };
    const text = serializeRecipe(recipe(options));
    const parsed = parseRecipe(text, 'run.json');
    expect(parsed.fineTune).toEqual(options);
    expect(serializeRecipe(parsed)).toBe(text);
    // Key order of the input does not matter.
    const reversed = JSON.parse(text);
    reversed.fineTune = Object.fromEntries(Object.entries(reversed.fineTune).reverse());
    expect(serializeRecipe(parseRecipe(JSON.stringify(reversed), 'run.json'))).toBe(text);
  });

  test('a bad field is named once, with what was expected', () => {
    const bad = (patch: Record<string, unknown>, field: string, expected: RegExp) => {
      const json = JSON.parse(serializeRecipe(recipe(fineTuneDefaults('esd-x', 8))));
      Object.assign(json.fineTune, patch);
      for (const [k, v] of Object.entries(patch)) if (v === undefined) delete json.fineTune[k];
      let error: unknown;
      try {
        parseRecipe(JSON.stringify(json), 'run.json');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FormatError);
      expect((error as FormatError).field).toBe(`fineTune.${field}`);
      expect((error as FormatError).message).toMatch(expected);
    };
    bad({ objective: 'esd-u' }, 'objective', /one of "realera", "esd-x", "crce"/);
    bad({ learningRate: 0 }, 'learningRate', /\(0, 1\]/);
    bad({ rank: 2.5 }, 'rank', /integer/);
    bad({ seed: -1 }, 'seed', /integer in \[0, 4294967295\]/);
    bad({ steps: undefined }, 'steps', /missing/);
    bad({ epochs: 3 }, 'epochs', /unknown field/);
    expect(() => parseFineTuneOptions({ ...fineTuneDefaults('realera', 8), latentGuidance: 0.5 })).toThrow(new InputError('fineTune.latentGuidance: expected a number in [1, 50], got number 0.5'));
  });
});

describe('step plans', () => {
  test('are pure functions of (seed, step): replanning a step gives the same plan, other steps and seeds differ', async () => {
    for (const objective of ['esd-x', 'crce'] as const) {
      const a = await objectiveFor(objective).planStep(5, context({ objective, seed: 9 }));
      const b = await objectiveFor(objective).planStep(5, context({ objective, seed: 9 }));
      expect(b).toEqual(a);
      const others = await Promise.all([objectiveFor(objective).planStep(6, context({ objective, seed: 9 })), objectiveFor(objective).planStep(5, context({ objective, seed: 10 }))]);
      for (const other of others) expect(other.samples).not.toEqual(a.samples);
    }
  });

  test('ESD-x: one negative-guidance term per sample on the erase prompt, latent denoised with it for fewer than latentSteps steps', async () => {
    const steps = new Set<number>();
    for (let step = 0; step < 40; step++) {
      const plan = await objectiveFor('esd-x').planStep(step, context({ objective: 'esd-x', batch: 2, eta: 0.7, latentSteps: 10 }));
      expect(plan.samples).toHaveLength(2);
      for (const { latent, terms } of plan.samples) {
        expect(terms).toHaveLength(1);
        const [term] = terms;
        expect(term).toMatchObject({ group: 'erase', weight: 1, target: { kind: 'negative-guidance', eta: 0.7 } });
        expect(term.input).toEqual(term.target.cond);
        expect(term.input.kind === 'text' && /\bcat\b/.test(term.input.text)).toBe(true);
        expect(latent).toMatchObject({ kind: 'denoised', prompt: term.input.kind === 'text' ? term.input.text : '' });
        if (latent.kind === 'denoised') steps.add(latent.stepsTaken);
      }
    }
    expect(Math.min(...steps)).toBe(0);
    expect(Math.max(...steps)).toBe(9);
  });

  test('CRCE: the ESD term, M corefs at alpha w_i / M (negative guidance) and N retains at beta w_j / N (kept at the original), one template', async () => {
    const plan = await objectiveFor('crce').planStep(3, context({ objective: 'crce', corefsPerStep: 5, retainsPerStep: 3, corefWeight: 2, retainWeight: 0.5 }));
    const [{ terms, latent }] = plan.samples;
    const byGroup = (g: LossTerm['group']) => terms.filter((t) => t.group === g);
    expect(byGroup('erase')).toHaveLength(1);
    const corefs = byGroup('coref');
    const retains = byGroup('retain');
    expect(corefs).toHaveLength(5);
    expect(retains).toHaveLength(3);
    const promptOf = (t: LossTerm) => (t.input.kind === 'text' ? t.input.text : '');
    const erasePrompt = promptOf(byGroup('erase')[0]);
    expect(latent).toEqual({ kind: 'denoised', prompt: erasePrompt, stepsTaken: expect.any(Number) });
    const template = erasePrompt.replace('cat', '{}');
    const weightOf = new Map([...concepts.targets[0].corefs, ...concepts.retains].map((c) => [c.concept, c.weight]));
    for (const t of corefs) {
      const concept = [...weightOf.keys()].find((c) => promptOf(t) === template.replace('{}', c))!;
      expect(concept, promptOf(t)).toBeDefined();
      expect(t.weight).toBeCloseTo((2 * weightOf.get(concept)!) / 5, 12);
      expect(t.target).toMatchObject({ kind: 'negative-guidance', cond: t.input });
    }
    for (const t of retains) {
      const concept = [...weightOf.keys()].find((c) => promptOf(t) === template.replace('{}', c))!;
      expect(['dog', 'horse', 'tiger', 'lion']).toContain(concept);
      expect(t.weight).toBeCloseTo((0.5 * weightOf.get(concept)!) / 3, 12);
      expect(t.target).toEqual({ kind: 'original', cond: t.input });
    }
    expect(new Set(corefs.map(promptOf)).size).toBe(5);
    // Fewer available than asked: all of them, weights still averaged over those taken.
    const few = await objectiveFor('crce').planStep(0, context({ objective: 'crce', corefsPerStep: 50, retainsPerStep: 0 }));
    expect(few.samples[0].terms.filter((t) => t.group === 'coref')).toHaveLength(6);
    expect(few.samples[0].terms.filter((t) => t.group === 'retain')).toHaveLength(0);
  });

  test('RealEra: odd steps align the erase prompt with the anchor; even steps a perturbed neighbor with the anchor, a beyond sample and retained concepts with themselves', async () => {
    // A stand-in embedding: the RealEra window is met with the default radii when |e| ~ sqrt(n) * 6.
    const width = 4096;
    const embed = async (prompt: string) => {
      const rng = new SeededRandom(prompt.length * 7919 + prompt.charCodeAt(prompt.length - 1 || 0));
      return rng.normalArray(width, 6);
    };
    const ctx = { ...context({ objective: 'realera' }, embed), realera: { ...REALERA_DEFAULTS, d1: 400 * Math.sqrt(width / (77 * 768)) * 6, d2: 800 * Math.sqrt(width / (77 * 768)) * 6, d1Anchor: 100 } };
    const odd = await objectiveFor('realera').planStep(0, ctx);
    const [first] = odd.samples;
    expect(first.terms).toHaveLength(1);
    expect(first.terms[0]).toMatchObject({ group: 'erase', weight: 1, target: { kind: 'original' } });
    const erase = first.terms[0].input.kind === 'text' ? first.terms[0].input.text : '';
    const anchor = first.terms[0].target.cond.kind === 'text' ? first.terms[0].target.cond.text : '';
    expect(erase.replace(/cat|kitten|tabby|feline|kitty|moggy|tomcat/, 'animal')).toBe(anchor);
    expect(first.latent).toMatchObject({ kind: 'anchor-image', prompt: anchor });
    const even = await objectiveFor('realera').planStep(1, ctx);
    const [second] = even.samples;
    expect(second.terms.map((t) => t.group)).toEqual(['neighbor', 'beyond', 'retain', 'retain', 'retain']);
    const [neighbor, beyond, ...retains] = second.terms;
    // Retained concepts in the pair's template, kept at the original's prediction, weighted by certainty over the count.
    const retainWeights = new Map([['dog', 1], ['horse', 0.8], ['tiger', 0.6], ['lion', 0.4]]);
    const template = PROMPT_TEMPLATES.object.find((t) => t.replace('{}', 'animal') === second.latent.prompt)!;
    for (const term of retains) {
      const prompt = term.input.kind === 'text' ? term.input.text : '';
      const name = [...retainWeights.keys()].find((r) => template.replace('{}', r) === prompt);
      expect(name, prompt).toBeDefined();
      expect(term.target).toEqual({ kind: 'original', cond: term.input });
      expect(term.weight).toBeCloseTo(retainWeights.get(name!)! / 3, 12);
    }
    expect(new Set(retains.map((t) => (t.input.kind === 'text' ? t.input.text : ''))).size).toBe(3);
    // retainsPerStep 0: Algorithm 1 as printed, and the same neighbor and beyond draws.
    const paper = await objectiveFor('realera').planStep(1, { ...ctx, options: { ...ctx.options, retainsPerStep: 0 } });
    expect(paper.samples[0].terms.map((t) => t.group)).toEqual(['neighbor', 'beyond']);
    expect(paper.samples[0].terms).toEqual(second.terms.slice(0, 2));
    expect(neighbor.input.kind).toBe('embedding');
    expect(neighbor.target).toMatchObject({ kind: 'original', cond: { kind: 'text', text: second.latent.prompt } });
    expect(beyond.target).toEqual({ kind: 'original', cond: beyond.input });
    // The neighbor lies in the cosine window [s2, s1] around the erase embedding; the beyond sample below s2.
    const anchorPrompt = second.latent.prompt;
    const erasePrompt = (['cat', 'kitten', 'tabby', 'feline', 'kitty', 'moggy', 'tomcat'] as const)
      .map((c) => PROMPT_TEMPLATES.object.map((t) => ({ prompt: t.replace('{}', c), anchor: t.replace('{}', 'animal') })))
      .flat()
      .find((p) => p.anchor === anchorPrompt && neighbor.input.kind === 'embedding' && neighbor.input.label.includes(JSON.stringify(p.prompt)))!.prompt;
    const e = await embed(erasePrompt);
    const cos = (x: Float32Array) => {
      let dot = 0, nx = 0, ne = 0;
      for (let i = 0; i < width; i++) (dot += x[i] * e[i]), (nx += x[i] * x[i]), (ne += e[i] * e[i]);
      return dot / Math.sqrt(nx * ne);
    };
    if (neighbor.input.kind !== 'embedding' || beyond.input.kind !== 'embedding') throw new Error('expected embeddings');
    expect(cos(neighbor.input.values)).toBeGreaterThanOrEqual(REALERA_DEFAULTS.s2 - 1e-6);
    expect(cos(neighbor.input.values)).toBeLessThanOrEqual(REALERA_DEFAULTS.s1 + 1e-6);
    expect(cos(beyond.input.values)).toBeLessThan(REALERA_DEFAULTS.s2 + 1e-6);
  });

  test("RealEra's window: a RealEra recipe's own options; on a UCE recipe the paper's radii scaled to the encoder's embedding norm", async () => {
    const own = { ...REALERA_DEFAULTS, radiusScale: 0.37 };
    const asked: string[] = [];
    // Every prompt's flattened embedding has norm 10 * (index + 1): the mean over the prompts sets the scale.
    const embed = async (prompt: string): Promise<Float32Array> => {
      asked.push(prompt);
      return new Float32Array([6, 8].map((v) => v * asked.length));
    };
    expect(await realEraWindow({ ...recipe(null), method: 'realera', realera: { options: own, seed: 1 } }, embed)).toEqual(own);
    expect(asked).toEqual([]);
    const window = await realEraWindow(recipe(null), embed);
    // Every erase pair (cat and its 6 corefs) in every template.
    expect(asked).toHaveLength(7 * PROMPT_TEMPLATES.object.length);
    expect(asked).toContain('a photo of kitten');
    const meanNorm = (10 * (asked.length + 1)) / 2;
    expect(window).toEqual({ ...REALERA_DEFAULTS, radiusScale: meanNorm / Math.sqrt(77 * 768) });
  });

  test('sampling helpers: without replacement, and distinct per (seed, step, stream)', () => {
    const rng = new SeededRandom(1);
    const drawn = sampleWithoutReplacement(rng, 10, 4);
    expect(new Set(drawn).size).toBe(4);
    expect(drawn.every((i) => i >= 0 && i < 10)).toBe(true);
    expect(sampleWithoutReplacement(rng, 3, 9).sort()).toEqual([0, 1, 2]);
    const first = (seed: number, step: number, stream = 0) => stepRandom(seed, step, stream).nextUint32();
    expect(first(1, 2)).toBe(first(1, 2));
    expect(new Set([first(1, 2), first(2, 1), first(1, 3), first(1, 2, 1)]).size).toBe(4);
  });
});

describe('checkpoint file', () => {
  const checkpoint: FineTuneCheckpoint = {
    recipeSha256: 'ef'.repeat(32),
    step: 2,
    adamSteps: 2,
    losses: [
      { step: 0, loss: 0.5, groups: { erase: 0.3, coref: 0.2 } },
      { step: 1, loss: 0.25, groups: { erase: 0.25 } },
    ],
    tensors: new Map([
      ['lora.0.to_k.a', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, 7]) }],
      ['adam.v.0', { shape: [3], data: Float32Array.from([Math.PI, 0, 1e38]) }],
    ]),
  };

  test('round-trips every bit of the state', () => {
    const back = decodeCheckpoint(encodeCheckpoint(checkpoint), 'run.ckpt');
    expect(back.recipeSha256).toBe(checkpoint.recipeSha256);
    expect(back.step).toBe(2);
    expect(back.adamSteps).toBe(2);
    expect(back.losses).toEqual(checkpoint.losses);
    for (const [name, t] of checkpoint.tensors) {
      expect(back.tensors.get(name)!.shape).toEqual(t.shape);
      expect(new Uint32Array(back.tensors.get(name)!.data.buffer)).toEqual(new Uint32Array(t.data.buffer));
    }
  });

  test('a file that is not a checkpoint, or whose history is short, is a FormatError naming the field', () => {
    const broken = encodeCheckpoint({ ...checkpoint, losses: checkpoint.losses.slice(0, 1) });
    expect(() => decodeCheckpoint(broken, 'run.ckpt')).toThrow(/run\.ckpt: __metadata__\.state\.losses: expected an array of 2 step losses/);
    const lora = new TextEncoder().encode('not safetensors at all');
    expect(() => decodeCheckpoint(lora, 'x.ckpt')).toThrow(FormatError);
  });
});
