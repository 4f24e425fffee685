/**
 * Everything between an erase request and the closed-form solve: the concept set is validated,
 * every concept is written into the prompt templates, each prompt's subject is located in its
 * tokens, all prompts are encoded in one call, token vectors are selected, RealEra perturbs the
 * erase embeddings, and the constraint vectors become a ClosedFormProblem with its recipe.
 *
 * The problem's vectors, in this order (rebuildFromRecipe reproduces it bit for bit):
 *   erase    1. for each erase pair (erasurePairs: each target, then its corefs), for each
 *               template: pairTokenVectors(erase prompt, anchor prompt), in token order;
 *            2. RealEra only: for the same pairs and templates in the same order, for each of the
 *               M neighbors: pairTokenVectors(e + eta, e* + eta'), i.e. the perturbed erase
 *               embedding mapped to the perturbed anchor.
 *   preserve 1. for each kept concept (retains, then the preserve list), for each template:
 *               selectTokenVectors(prompt);
 *            2. sharedRows 'keep' only: sharedRowVectors of each template written with the empty
 *               subject (its rows before the slot), then of the empty prompt (every row);
 *            3. RealEra only: for the same pairs and templates, for each of the N beyond samples:
 *               selectTokenVectors(e + eta), kept at its own mapping.
 * Scales: s_e = eraseScale x the pair's weight (neighbors too); s_p = preserveScale x the
 * concept's weight, preserveScale for a shared row, and preserveScale x the erase pair's weight
 * for its beyond samples.
 *
 * RealEra randomness: ONE SeededRandom(seed) serves the whole request. sampleRealEra runs once
 * per erase prompt pair (pair x template, in the order above) on the full flattened
 * tokens x d embeddings, drawing its M neighbors and then its N beyond samples from that stream.
 * Unless the request gives radiusScale, it is radiusScaleForEncoder(mean norm of the flattened
 * erase prompt embeddings, in float64); the recipe stores the value used, so a rebuild does not
 * recompute it.
 */
import { InputError, ShapeError } from '../util/errors.ts';
import { SeededRandom } from '../util/random.ts';
import type { EraseRequest } from './erase-request.ts';
import type { PackFamily } from '../model/manifest.ts';
import {
  cheaperSolver,
  CLOSED_FORM_SOLVERS,
  REALERA_CLOSED_FORM,
  solveEditOperator,
  UCE_CLOSED_FORM,
  type ClosedFormSolver,
  type EditOperator,
} from './closed-form.ts';
import type { ClosedFormProblem, EraseConstraint, PreserveConstraint } from './closed-form-problem.ts';
import { defineConceptSet, erasurePairs, preservedConcepts, type ConceptSet } from './concept-sets.ts';
import { expandConcept, expandPair, fillTemplate, PROMPT_TEMPLATES, TEMPLATE_SLOT, type TemplatedPrompt } from './prompt-templates.ts';
import { radiusScaleForEncoder, resolveRealEraOptions, sampleRealEra, type RealEraOptions } from './realera.ts';
import { ERASURE_METHODS, LETHE_VERSION, parseRecipe, RECIPE_FORMAT, RECIPE_VERSION, serializeRecipe, type ErasureMethod, type ErasureRecipe } from './recipe.ts';
import { subjectTokenSpan, type PromptTokens, type SubjectTokens } from './subject-span.ts';
import { isSharedRowsMode, sharedRowVectors, SHARED_ROWS_MODES, type SharedRowsMode } from './shared-rows.ts';
import { pairTokenVectors, selectTokenVectors, TOKEN_SELECTION_MODES, type PromptEmbedding, type TokenSelectionMode } from './token-selection.ts';

export type { PromptTokens } from './subject-span.ts';

/** The text encoder and tokenizer of the loaded pack. */
export interface ErasureEncoder {
  /** One tokens x width last_hidden_state per prompt, in order. Batching is the encoder's business. */
  encode(prompts: string[]): Promise<Float32Array[]>;
  tokenize(text: string): PromptTokens;
}

export interface ErasureContext {
  /** d: the text embedding width. */
  readonly width: number;
  /** The encoder's context length (77). */
  readonly tokens: number;
  /** sha256 of the pack's manifest.json, written into the recipe. */
  readonly packSha256: string;
  readonly family: PackFamily;
}

export interface ErasureStats {
  /** Erase constraint vectors (n_e = rank of M - I), neighbors' included. */
  readonly eraseVectors: number;
  /** Preserve constraint vectors, beyond samples' included. */
  readonly preserveVectors: number;
  /** RealEra neighbor embeddings sampled (M per erase prompt pair); 0 for UCE. */
  readonly neighbors: number;
  /** RealEra beyond-concept embeddings sampled (N per erase prompt pair); 0 for UCE. */
  readonly beyond: number;
}

export interface BuiltErasure {
  /**
   * The recipe of this edit. closedForm.solver is the solver the request named, else the one
   * 'auto' tries first (cheaperSolver); solveErasure (or recipeWithSolver) records the one that ran.
   */
  readonly recipe: ErasureRecipe;
  readonly problem: ClosedFormProblem;
  /** What to pass to solveEditOperator: the request's solver or 'auto'; a rebuild's recipe solver. */
  readonly solver: ClosedFormSolver | 'auto';
  readonly stats: ErasureStats;
  /** Milliseconds in deps.encode and in RealEra sampling + selection (0 for UCE). */
  readonly ms: { readonly encode: number; readonly sample: number };
}

/** Everything the build depends on, whether it came from a request or a recipe. */
interface ErasureSettings {
  readonly concepts: ConceptSet;
  readonly method: ErasureMethod;
  readonly templates: readonly string[];
  readonly tokens: TokenSelectionMode;
  readonly sharedRows: SharedRowsMode;
  /** radiusScale undefined: measured from the embeddings. */
  readonly realera: { readonly options: Partial<RealEraOptions>; readonly seed: number } | null;
  readonly lambda: number;
  readonly eraseScale: number;
  readonly preserveScale: number;
  /** null: the request left it to 'auto'. */
  readonly solver: ClosedFormSolver | null;
}

/** Builds the closed-form problem and recipe of an erase request. */
export async function buildErasureProblem(request: EraseRequest, deps: ErasureEncoder, context: ErasureContext): Promise<BuiltErasure> {
  return buildFromSettings(settingsOfRequest(request), deps, context);
}

/**
 * The problem a recipe describes, identical (same vectors, same order, same bits) to the one
 * its request built, given the same pack: the recipe's pack sha256 and family must match.
 */
export async function rebuildFromRecipe(recipe: ErasureRecipe, deps: ErasureEncoder, context: ErasureContext): Promise<BuiltErasure> {
  // Validates a recipe built in code as strictly as one read from a file.
  const checked = parseRecipe(serializeRecipe(recipe), 'recipe');
  if (checked.pack.sha256 !== context.packSha256 || checked.pack.family !== context.family)
    throw new InputError(
      `recipe: pack: the recipe was made with pack ${checked.pack.sha256.slice(0, 12)}... (${checked.pack.family}), ` +
        `but the loaded pack is ${context.packSha256.slice(0, 12)}... (${context.family}); load that pack to reproduce the edit`,
    );
  return buildFromSettings(
    {
      concepts: checked.concepts,
      method: checked.method,
      templates: checked.prompts.templates,
      tokens: checked.prompts.tokens,
      sharedRows: checked.prompts.sharedRows ?? 'free',
      realera: checked.realera && { options: checked.realera.options, seed: checked.realera.seed },
      lambda: checked.closedForm.lambda,
      eraseScale: checked.closedForm.eraseScale,
      preserveScale: checked.closedForm.preserveScale,
      solver: checked.closedForm.solver,
    },
    deps,
    context,
  );
}

/** The recipe with the solver that actually produced the edit (after an 'auto' fallback). */
export function recipeWithSolver(recipe: ErasureRecipe, solver: ClosedFormSolver): ErasureRecipe {
  return { ...recipe, closedForm: { ...recipe.closedForm, solver } };
}

export interface SolvedErasure {
  readonly operator: EditOperator;
  /** built.recipe with closedForm.solver = the solver that ran: it recomputes `operator` bit for bit. */
  readonly recipe: ErasureRecipe;
  readonly ms: number;
}

/** Solves a built problem on the CPU with built.solver and records the solver that ran. */
export function solveErasure(built: BuiltErasure): SolvedErasure {
  const start = performance.now();
  const operator = solveEditOperator(built.problem, { solver: built.solver });
  return { operator, recipe: recipeWithSolver(built.recipe, operator.solver), ms: performance.now() - start };
}

const REQUEST_KEYS = ['concepts', 'method', 'templates', 'tokens', 'sharedRows', 'realera', 'closedForm'];
const REALERA_REQUEST_KEYS = ['options', 'seed'];
const CLOSED_FORM_REQUEST_KEYS = ['lambda', 'eraseScale', 'preserveScale', 'solver'];

function settingsOfRequest(request: EraseRequest): ErasureSettings {
  expectKeys(request, 'erase request', REQUEST_KEYS);
  const concepts = defineConceptSet(request.concepts);
  const method = request.method;
  if (!ERASURE_METHODS.includes(method)) throw requestError('method', `expected one of ${ERASURE_METHODS.join(', ')}, got ${describe(method)}`);
  const tokens = request.tokens;
  if (!TOKEN_SELECTION_MODES.includes(tokens)) throw requestError('tokens', `expected one of ${TOKEN_SELECTION_MODES.join(', ')}, got ${describe(tokens)}`);

  const sharedRows = request.sharedRows ?? 'keep';
  if (!isSharedRowsMode(sharedRows)) throw requestError('sharedRows', `expected one of ${SHARED_ROWS_MODES.join(', ')}, got ${describe(sharedRows)}`);

  let templates: readonly string[];
  if (request.templates === undefined) templates = PROMPT_TEMPLATES[concepts.kind];
  else {
    if (!Array.isArray(request.templates) || request.templates.length === 0)
      throw requestError('templates', `expected a non-empty array of templates with one "{}" each, got ${describe(request.templates)}`);
    request.templates.forEach((template, i) => {
      if (typeof template !== 'string') throw requestError(`templates[${i}]`, `expected a string with one "{}", got ${describe(template)}`);
    });
    templates = [...request.templates];
  }

  let realera: ErasureSettings['realera'] = null;
  if (method === 'realera') {
    const given = request.realera ?? {};
    expectKeys(given, 'erase request: realera', REALERA_REQUEST_KEYS);
    const seed = given.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw requestError('realera.seed', `expected an integer in [0, 2^32), got ${describe(seed)}`);
    const options = given.options ?? {};
    // Checked now (radiusScale may still be missing: it is measured after encoding).
    resolveRealEraOptions({ ...options, radiusScale: options.radiusScale ?? 1 }, (field, detail) => {
      throw requestError(`realera.options.${field}`, detail);
    });
    realera = { options: { ...options }, seed };
  } else if (request.realera !== undefined) {
    throw requestError('realera', `RealEra options apply to method "realera" only, but method is "${method}"`);
  }

  const closedForm = request.closedForm ?? {};
  expectKeys(closedForm, 'erase request: closedForm', CLOSED_FORM_REQUEST_KEYS);
  const defaults = method === 'realera' ? REALERA_CLOSED_FORM : UCE_CLOSED_FORM;
  const positive = (key: 'lambda' | 'eraseScale' | 'preserveScale'): number => {
    const value = closedForm[key] ?? defaults[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw requestError(`closedForm.${key}`, `expected a finite number > 0, got ${describe(value)}`);
    return value;
  };
  const solver = closedForm.solver ?? null;
  if (solver !== null && !CLOSED_FORM_SOLVERS.includes(solver))
    throw requestError('closedForm.solver', `expected one of ${CLOSED_FORM_SOLVERS.join(', ')} (or nothing for auto), got ${describe(solver)}`);
  return {
    concepts,
    method,
    templates,
    tokens,
    sharedRows,
    realera,
    lambda: positive('lambda'),
    eraseScale: positive('eraseScale'),
    preserveScale: positive('preserveScale'),
    solver,
  };
}

async function buildFromSettings(settings: ErasureSettings, deps: ErasureEncoder, context: ErasureContext): Promise<BuiltErasure> {
  const { width, tokens } = checkContext(context);
  const mode = settings.tokens;
  const pairs = erasurePairs(settings.concepts);
  const kept = preservedConcepts(settings.concepts);
  // [pair][template] and [concept][template]; fillTemplate rejects a template without one "{}".
  const pairPrompts = pairs.map((pair) => expandPair(pair.concept, pair.anchor, settings.templates));
  const keptPrompts = kept.map((item) => expandConcept(item.concept, settings.templates));

  // Identical texts (the empty anchor recurs for every target) are tokenized and encoded once.
  const textIndex = new Map<string, number>();
  const texts: string[] = [];
  const tokenCache = new Map<string, PromptTokens>();
  const tokenize = (text: string): PromptTokens => {
    let result = tokenCache.get(text);
    if (result === undefined) tokenCache.set(text, (result = deps.tokenize(text)));
    return result;
  };
  const locate = (prompt: TemplatedPrompt): { prompt: TemplatedPrompt; tokens: SubjectTokens; row: number } => {
    let row = textIndex.get(prompt.text);
    if (row === undefined) {
      row = texts.length;
      textIndex.set(prompt.text, row);
      texts.push(prompt.text);
    }
    return { prompt, tokens: subjectTokenSpan(prompt, tokenize, tokens), row };
  };
  const pairSlots = pairPrompts.map((prompts) => prompts.map((pair) => ({ erase: locate(pair.erase), anchor: locate(pair.anchor) })));
  const keptSlots = keptPrompts.map((prompts) => prompts.map(locate));
  const sharedSlots =
    settings.sharedRows === 'keep'
      ? [...settings.templates.map((template) => ({ slot: locate(fillTemplate(template, '')), whole: false })), { slot: locate(fillTemplate(TEMPLATE_SLOT, '')), whole: true }]
      : [];

  const encodeStart = performance.now();
  const embeddings = await deps.encode(texts);
  const encodeMs = performance.now() - encodeStart;
  if (!Array.isArray(embeddings) || embeddings.length !== texts.length)
    throw new ShapeError(`erasure: the text encoder returned ${Array.isArray(embeddings) ? embeddings.length : describe(embeddings)} embeddings for ${texts.length} prompts`);
  embeddings.forEach((values, i) => {
    if (!(values instanceof Float32Array) || values.length !== tokens * width)
      throw new ShapeError(`erasure: the text encoder's embedding of ${JSON.stringify(texts[i])} has ${values?.length} values, expected ${tokens}x${width}`);
  });
  const embed = (slot: { tokens: SubjectTokens; row: number }, values: Float32Array | Float64Array = embeddings[slot.row]): PromptEmbedding => ({
    values,
    tokens,
    width,
    eosIndex: slot.tokens.eosIndex,
    subject: slot.tokens.subject,
  });

  const erase: EraseConstraint[] = [];
  const preserve: PreserveConstraint[] = [];
  pairs.forEach((pair, p) => {
    const scale = settings.eraseScale * pair.weight;
    for (const slot of pairSlots[p]) pushErase(erase, pairTokenVectors(embed(slot.erase), embed(slot.anchor), mode), scale);
  });
  kept.forEach((item, c) => {
    const scale = settings.preserveScale * item.weight;
    for (const slot of keptSlots[c]) for (const input of selectTokenVectors(embed(slot), mode)) preserve.push({ input, scale });
  });
  for (const input of sharedRowVectors(sharedSlots.map(({ slot, whole }) => ({ embedding: embed(slot), whole })))) preserve.push({ input, scale: settings.preserveScale });

  let neighbors = 0;
  let beyond = 0;
  let sampleMs = 0;
  let realeraOptions: RealEraOptions | null = null;
  if (settings.realera) {
    const sampleStart = performance.now();
    const radiusScale = settings.realera.options.radiusScale ?? radiusScaleForEncoder(meanNorm(pairSlots.flat().map((slot) => embeddings[slot.erase.row])));
    const options = resolveRealEraOptions({ ...settings.realera.options, radiusScale });
    realeraOptions = options;
    const random = new SeededRandom(settings.realera.seed);
    const beyondConstraints: PreserveConstraint[] = [];
    pairs.forEach((pair, p) => {
      const eraseScale = settings.eraseScale * pair.weight;
      const preserveScale = settings.preserveScale * pair.weight;
      for (const slot of pairSlots[p]) {
        const samples = sampleRealEra(embeddings[slot.erase.row], embeddings[slot.anchor.row], random, options);
        for (const neighbor of samples.neighbors)
          pushErase(erase, pairTokenVectors(embed(slot.erase, neighbor.erase), embed(slot.anchor, neighbor.anchor), mode), eraseScale);
        for (const sample of samples.beyond)
          for (const input of selectTokenVectors(embed(slot.erase, sample.embedding), mode)) beyondConstraints.push({ input, scale: preserveScale });
        neighbors += samples.neighbors.length;
        beyond += samples.beyond.length;
      }
    });
    preserve.push(...beyondConstraints);
    sampleMs = performance.now() - sampleStart;
  }

  const problem: ClosedFormProblem = {
    width,
    lambda: settings.lambda,
    eraseScale: settings.eraseScale,
    preserveScale: settings.preserveScale,
    erase,
    preserve,
  };
  const recipeSolver = settings.solver ?? cheaperSolver(width, erase.length + preserve.length, erase.length);
  const draft: ErasureRecipe = {
    format: RECIPE_FORMAT,
    version: RECIPE_VERSION,
    lethe: LETHE_VERSION,
    pack: { sha256: context.packSha256, family: context.family },
    concepts: settings.concepts,
    method: settings.method,
    prompts: { templates: [...settings.templates], tokens: mode, sharedRows: settings.sharedRows },
    realera: settings.realera && realeraOptions && { options: realeraOptions, seed: settings.realera.seed },
    closedForm: {
      lambda: settings.lambda,
      eraseScale: settings.eraseScale,
      preserveScale: settings.preserveScale,
      solver: recipeSolver,
    },
  };
  // The recipe is returned as its own file would read back: parse(serialize) checks every field.
  const recipe = parseRecipe(serializeRecipe(draft), 'recipe');
  return {
    recipe,
    problem,
    solver: settings.solver ?? 'auto',
    stats: { eraseVectors: erase.length, preserveVectors: preserve.length, neighbors, beyond },
    ms: { encode: encodeMs, sample: sampleMs },
  };
}

function pushErase(into: EraseConstraint[], vectors: { inputs: Float64Array[]; targets: Float64Array[] }, scale: number): void {
  vectors.inputs.forEach((input, i) => into.push({ input, target: vectors.targets[i], scale }));
}

/** Mean Euclidean norm of the flattened embeddings, float64. */
function meanNorm(embeddings: readonly Float32Array[]): number {
  let total = 0;
  for (const values of embeddings) {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
    total += Math.sqrt(sum);
  }
  return total / embeddings.length;
}

function checkContext(context: ErasureContext): { width: number; tokens: number } {
  const { width, tokens, packSha256 } = context;
  if (!Number.isInteger(width) || width < 1) throw new InputError(`erasure context: width: expected a positive integer (768 or 1024), got ${describe(width)}`);
  if (!Number.isInteger(tokens) || tokens < 2) throw new InputError(`erasure context: tokens: expected an integer >= 2 (77 for CLIP), got ${describe(tokens)}`);
  if (typeof packSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(packSha256))
    throw new InputError(`erasure context: packSha256: expected 64 lowercase hex digits, got ${describe(packSha256)}`);
  return { width, tokens };
}

function expectKeys(value: unknown, where: string, keys: readonly string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${where}: expected an object with ${keys.join(', ')}, got ${describe(value)}`);
  for (const key of Object.keys(value))
    if (!keys.includes(key)) throw new InputError(`${where}: ${key}: unknown field; expected one of ${keys.join(', ')}`);
}

function requestError(field: string, detail: string): InputError {
  return new InputError(`erase request: ${field}: ${detail}`);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string' || typeof value === 'number') return JSON.stringify(value);
  return typeof value;
}
