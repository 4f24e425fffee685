/**
 * What the training panel keeps outside React: the recipe of the last run started (localStorage,
 * so that after a reload or a crash the panel finds its checkpoint and offers to resume it, with
 * the form it was started from), and the hand-over of a finished run to the studio's edit stack.
 */
import { fineTuneDefaults, type FineTuneObjective } from '../erasure/fine-tune/fine-tune-options.ts';
import { parseRecipe, serializeRecipe } from '../erasure/recipe.ts';
import { importLoraEdit } from './edit-actions.ts';
import { engineClient } from './engine-client.ts';
import { useStudio } from './store.ts';

export const LAST_TRAINING_KEY = 'lethe.training.last-recipe';

export interface TrainingForm {
  objective: FineTuneObjective;
  steps: string;
  learningRate: string;
  rank: string;
  /** DDIM steps of the z_t denoising (ESD/CRCE) and of the anchor image (RealEra). */
  latentSteps: string;
  /** A checkpoint and a refreshed "after" image every this many steps. */
  every: string;
}

export const DEFAULT_TRAINING_FORM: TrainingForm = { objective: 'esd-x', steps: '200', learningRate: '1e-5', rank: '4', latentSteps: '50', every: '10' };

function wholeNumber(text: string, field: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) throw new Error(`${field}: expected a whole number in [${min}, ${max}], got "${text}"`);
  return value;
}

/** The training recipe: the edit's recipe with a fineTune section from the form, or an error naming the field. */
export function trainingRecipeFor(editRecipe: string, form: TrainingForm, latentSize: number): { recipe: string; every: number } | { error: string } {
  try {
    const steps = wholeNumber(form.steps, 'steps', 1, 100_000);
    const learningRate = Number(form.learningRate);
    if (!(learningRate > 0 && learningRate <= 1)) throw new Error(`learning rate: expected a number in (0, 1], got "${form.learningRate}"`);
    const rank = wholeNumber(form.rank, 'rank', 1, 1024);
    const latentSteps = wholeNumber(form.latentSteps, 'z_t steps', 1, 1000);
    const every = wholeNumber(form.every, 'every', 1, 100_000);
    const recipe = parseRecipe(editRecipe, 'edit recipe');
    return { recipe: serializeRecipe({ ...recipe, fineTune: { ...fineTuneDefaults(form.objective, latentSize), steps, learningRate, rank, alpha: rank, latentSteps } }), every };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** The form a training recipe was made from (to show a saved run's settings). */
export function trainingFormOf(recipeJson: string, every: string): TrainingForm | null {
  try {
    const fineTune = parseRecipe(recipeJson, 'saved run').fineTune;
    if (!fineTune) return null;
    return { objective: fineTune.objective, steps: String(fineTune.steps), learningRate: String(fineTune.learningRate), rank: String(fineTune.rank), latentSteps: String(fineTune.latentSteps), every };
  } catch {
    return null;
  }
}

/** The pack (manifest sha256) a training recipe was made for; null when it does not parse. */
export function trainingPackOf(recipeJson: string): string | null {
  try {
    return parseRecipe(recipeJson, 'saved run').pack.sha256;
  } catch {
    return null;
  }
}

export function rememberTrainingRun(recipe: string): void {
  try {
    localStorage.setItem(LAST_TRAINING_KEY, recipe);
  } catch {
    // Storage full or disabled: resuming after a reload is not offered, the run itself goes on.
  }
}

export function lastTrainingRun(): string | null {
  try {
    return localStorage.getItem(LAST_TRAINING_KEY);
  } catch {
    return null;
  }
}

/** The file a finished run became: what the studio applies and what "Download LoRA" saves. */
export interface TrainedFile {
  bytes: Uint8Array;
  fileName: string;
}

/**
 * Makes a finished run the studio's current edit through the same path as opening a LoRA file:
 * its exact fp32 export (closed-form and trained factors) is applied and put on the edit stack, so
 * the history, the crash restore and the downloaded file all hold these bytes, and loading the
 * downloaded file gives the same after-image pixel for pixel.
 */
export async function adoptTrainedLora(): Promise<TrainedFile> {
  const file = await engineClient().exportLora({ convention: 'kohya', rank: 'exact', dtype: 'fp32' });
  // As if the file had been opened: the strength slider re-applies it.
  useStudio.getState().updateLora((l) => ({ file: { name: file.fileName, bytes: file.bytes }, form: { ...l.form, strength: 1 } }));
  await importLoraEdit(file.bytes, file.fileName, 1);
  const { edit, lora } = useStudio.getState();
  if (edit.active?.kind !== 'lora' || edit.active.summary.fileName !== file.fileName) throw new Error(`The trained LoRA could not be applied: ${lora.error?.title ?? 'unknown error'}`);
  return { bytes: file.bytes, fileName: file.fileName };
}
