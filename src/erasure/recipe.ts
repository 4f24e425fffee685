/**
 * The erasure recipe: a JSON file with everything needed to recompute an edit bit for bit —
 * which pack (sha256 of its manifest.json, family), the concept set, the method, the prompt
 * templates and token selection, RealEra's options and seed, the closed-form settings, the
 * solver that ran it, and the Lethe version.
 *
 * `serializeRecipe` writes keys in one fixed order (whatever order the object was built in),
 * so equal recipes are equal bytes and a recipe's sha256 identifies an edit. `parseRecipe`
 * trusts nothing: every field is checked and a bad one is a FormatError naming the file and
 * the field path.
 */
import { FormatError, InputError } from '../util/errors.ts';
import { PACK_FAMILIES, type PackFamily } from '../model/manifest.ts';
import { CLOSED_FORM_SOLVERS, type ClosedFormSolver } from './closed-form.ts';
import { parseConceptSet, type ConceptSet } from './concept-sets.ts';
import { TEMPLATE_SLOT } from './prompt-templates.ts';
import { REALERA_DEFAULTS, resolveRealEraOptions, type RealEraOptions } from './realera.ts';
import { SHARED_ROWS_MODES, type SharedRowsMode } from './shared-rows.ts';
import { TOKEN_SELECTION_MODES, type TokenSelectionMode } from './token-selection.ts';
import { canonicalFineTune, parseFineTuneOptions, type FineTuneOptions } from './fine-tune/fine-tune-options.ts';
import { describeValue as describe } from '../util/describe-value.ts';
import { JsonFields } from '../util/json-fields.ts';

export const RECIPE_FORMAT = 'lethe-erasure-recipe';
export const RECIPE_VERSION = 1;
/** Written into every recipe; keep in step with package.json's version. */
export const LETHE_VERSION = '0.1.0';

export const ERASURE_METHODS = ['uce', 'realera'] as const;
export type ErasureMethod = (typeof ERASURE_METHODS)[number];
/**
 * Recipes written before the solve device was dropped carry `closedForm.device` ("cpu"; "gpu"
 * was allowed by the format but never reproducible, so never written). Reading accepts and
 * ignores it; it is no longer written.
 */
const LEGACY_SOLVE_DEVICES = ['cpu', 'gpu'] as const;

export interface RecipePrompts {
  /** Every template, each with one "{}" slot, in order (stored, not looked up by kind: defaults may change). */
  readonly templates: readonly string[];
  readonly tokens: TokenSelectionMode;
  /** Absent means 'free': recipes written before shared rows existed constrained concept rows only. */
  readonly sharedRows?: SharedRowsMode;
}

export interface RecipeRealEra {
  readonly options: RealEraOptions;
  /** SeededRandom seed (uint32). */
  readonly seed: number;
}

export interface RecipeClosedForm {
  readonly lambda: number;
  readonly eraseScale: number;
  readonly preserveScale: number;
  /** The solver that produced V^T (they agree to ~1e-12, not bit for bit). */
  readonly solver: ClosedFormSolver;
}

export interface ErasureRecipe {
  readonly format: typeof RECIPE_FORMAT;
  readonly version: typeof RECIPE_VERSION;
  readonly lethe: string;
  readonly pack: { readonly sha256: string; readonly family: PackFamily };
  readonly concepts: ConceptSet;
  readonly method: ErasureMethod;
  readonly prompts: RecipePrompts;
  /** Present exactly when method is 'realera'. */
  readonly realera: RecipeRealEra | null;
  readonly closedForm: RecipeClosedForm;
  /**
   * A fine-tuning run on top of (or instead of) the closed-form edit; absent or null: the
   * closed-form edit alone. Optional, so recipes written before it parse and hash unchanged.
   */
  readonly fineTune?: FineTuneOptions | null;
}

const MAX_RECIPE_BYTES = 4 * 1024 * 1024;
const MAX_TEMPLATES = 256;
const REALERA_KEYS = Object.keys(REALERA_DEFAULTS) as (keyof RealEraOptions)[];

/** Canonical JSON: fixed key order, 2-space indent, trailing newline. Validates first. */
export function serializeRecipe(recipe: ErasureRecipe): string {
  // Parsing our own output guarantees that only valid recipes are written.
  const canonical = canonicalRecipe(recipe);
  const text = `${JSON.stringify(canonical, null, 2)}\n`;
  parseRecipe(text, 'recipe (being serialized)');
  return text;
}

export function parseRecipe(json: string, file: string): ErasureRecipe {
  if (typeof json !== 'string') throw new InputError(`${file}: expected the recipe as JSON text`);
  if (json.length > MAX_RECIPE_BYTES) throw new FormatError(file, '(root)', `${json.length} characters is over the ${MAX_RECIPE_BYTES} allowed for a recipe`);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new FormatError(file, '(root)', `not JSON: ${(error as Error).message}`);
  }
  const root = JsonFields.of(file, '', value, {
    required: ['format', 'version', 'lethe', 'pack', 'concepts', 'method', 'prompts', 'realera', 'closedForm'],
    optional: ['fineTune'],
  });
  if (root.get('format') !== RECIPE_FORMAT) root.fail('format', `expected "${RECIPE_FORMAT}", got ${describe(root.get('format'))}`);
  if (root.get('version') !== RECIPE_VERSION)
    root.fail('version', `this build of Lethe reads recipe version ${RECIPE_VERSION}, got ${describe(root.get('version'))}`);
  const lethe = root.matching('lethe', /^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, 'a version like 0.1.0');

  const packFields = root.object('pack', { required: ['sha256', 'family'] });
  const pack = {
    sha256: packFields.matching('sha256', /^[0-9a-f]{64}$/, '64 lowercase hex digits (sha256 of manifest.json)'),
    family: packFields.literal('family', PACK_FAMILIES),
  };

  let concepts: ConceptSet;
  try {
    concepts = parseConceptSet(root.get('concepts'), 'concepts');
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    // "concepts: targets[0].weight: detail" -> field "concepts.targets[0].weight".
    const match = /^concepts: ([^:]+): ([\s\S]*)$/.exec(error.message);
    throw match ? new FormatError(file, `concepts.${match[1]}`, match[2]) : new FormatError(file, 'concepts', error.message);
  }

  const method = root.literal('method', ERASURE_METHODS);

  const promptFields = root.object('prompts', { required: ['templates', 'tokens'], optional: ['sharedRows'] });
  const templateValues = promptFields.value('templates');
  if (!Array.isArray(templateValues) || templateValues.length < 1 || templateValues.length > MAX_TEMPLATES)
    throw promptFields.error('templates', `expected an array of 1 to ${MAX_TEMPLATES} items, got ${describe(templateValues)}`);
  const templates = templateValues.map((template: unknown, i) => {
    const field = `${promptFields.fieldName('templates')}[${i}]`;
    if (typeof template !== 'string') throw promptFields.errorAt(field, `expected a template string, got ${describe(template)}`);
    const slot = template.indexOf(TEMPLATE_SLOT);
    if (slot < 0 || template.indexOf(TEMPLATE_SLOT, slot + 1) >= 0)
      throw promptFields.errorAt(field, `expected exactly one "${TEMPLATE_SLOT}" slot in ${describe(template)}`);
    return template;
  });
  const sharedRows = promptFields.get('sharedRows') === undefined ? undefined : promptFields.literal('sharedRows', SHARED_ROWS_MODES);
  const prompts: RecipePrompts = {
    templates,
    tokens: promptFields.literal('tokens', TOKEN_SELECTION_MODES),
    // Kept absent when absent (it means 'free'), so a recipe parses back to the object it came from.
    ...(sharedRows === 'keep' ? { sharedRows } : {}),
  };

  let realera: RecipeRealEra | null = null;
  const realeraValue = root.get('realera');
  if (method === 'realera') {
    if (realeraValue === null) root.fail('realera', 'expected RealEra options and seed for method "realera", got null');
    const realeraFields = root.object('realera', { required: ['options', 'seed'] });
    const optionFields = realeraFields.object('options', { required: REALERA_KEYS });
    const raw: Record<string, number> = {};
    for (const key of REALERA_KEYS) raw[key] = optionFields.finiteNumber(key);
    const options = resolveRealEraOptions(raw as Partial<RealEraOptions>, (field, detail) => optionFields.fail(field, detail));
    const seed = realeraFields.get('seed');
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw realeraFields.error('seed', `expected an integer in [0, 2^32), got ${describe(seed)}`);
    realera = { options, seed };
  } else if (realeraValue !== null) {
    root.fail('realera', `expected null for method "${method}" (RealEra options apply to method "realera" only), got ${describe(realeraValue)}`);
  }

  const closedFields = root.object('closedForm', { required: ['lambda', 'eraseScale', 'preserveScale', 'solver'], optional: ['device'] });
  const closedForm: RecipeClosedForm = {
    lambda: closedFields.positive('lambda'),
    eraseScale: closedFields.positive('eraseScale'),
    preserveScale: closedFields.positive('preserveScale'),
    solver: closedFields.literal('solver', CLOSED_FORM_SOLVERS),
  };
  if (closedFields.get('device') !== undefined) closedFields.literal('device', LEGACY_SOLVE_DEVICES);
  const fineTuneValue = root.get('fineTune');
  const fineTune =
    fineTuneValue === undefined || fineTuneValue === null
      ? null
      : parseFineTuneOptions(fineTuneValue, (field, detail) => {
          throw root.errorAt(`fineTune.${field}`, detail);
        });
  return { format: RECIPE_FORMAT, version: RECIPE_VERSION, lethe, pack, concepts, method, prompts, realera, closedForm, ...(fineTune ? { fineTune } : {}) };
}

/** A fresh object whose keys are in schema order, whatever order `recipe`'s were built in. */
function canonicalRecipe(recipe: ErasureRecipe): unknown {
  const weighted = (item: { concept: string; weight: number }) => ({ concept: item.concept, weight: item.weight });
  const c = recipe.concepts;
  return {
    format: recipe.format,
    version: recipe.version,
    lethe: recipe.lethe,
    pack: { sha256: recipe.pack?.sha256, family: recipe.pack?.family },
    concepts: c && {
      kind: c.kind,
      targets: c.targets?.map((t) => ({ concept: t.concept, weight: t.weight, anchor: t.anchor, corefs: t.corefs?.map(weighted) })),
      retains: c.retains?.map(weighted),
      preserve: c.preserve?.map(weighted),
    },
    method: recipe.method,
    // sharedRows 'free' is written as absent: recipes from before shared rows keep their bytes (and edit ids).
    prompts: { templates: recipe.prompts?.templates, tokens: recipe.prompts?.tokens, sharedRows: recipe.prompts?.sharedRows === 'free' ? undefined : recipe.prompts?.sharedRows },
    realera: recipe.realera && {
      options: Object.fromEntries(REALERA_KEYS.map((key) => [key, recipe.realera!.options?.[key]])),
      seed: recipe.realera.seed,
    },
    closedForm: recipe.closedForm && {
      lambda: recipe.closedForm.lambda,
      eraseScale: recipe.closedForm.eraseScale,
      preserveScale: recipe.closedForm.preserveScale,
      solver: recipe.closedForm.solver,
    },
    // Written only when present: a closed-form recipe keeps its bytes (and its edit id).
    ...(recipe.fineTune ? { fineTune: canonicalFineTune(recipe.fineTune) } : {}),
  };
}
