import type { EraseRequest } from '../engine/api.ts';
import { parseRecipe } from '../erasure/recipe.ts';
import { conceptFormFromRecipe, editLabel, eraseRequestFor, formSignature, type ConceptForm } from './concept-form.ts';
import { fileSafe, saveBlob } from './downloads.ts';
import { canRedo, canUndo, commitEdit, redoEdit, undoEdit, type EditStack } from './edit-stack.ts';
import { engineClient } from './engine-client.ts';
import { describeEngineError, type EngineCall } from './engine-error-advice.ts';
import { cancelEditedJobs, regenerateEdited } from './generate-actions.ts';
import { useStudio } from './store.ts';
import { sameEditEntry, type ActiveEdit, type EditEntry } from './studio-state.ts';
import { editBecameCurrent, eraseStarted } from './workbench-actions.ts';

/**
 * Edits: erase, recipes, undo/redo, clear, LoRA import. They run one after another (the engine
 * has one current edit), and each one that lands regenerates the erased side of the pair on show.
 */

let queue: Promise<void> = Promise.resolve();

/** Runs edit tasks in order; a failed one does not stop the next. */
export function enqueueEdit(task: () => Promise<unknown>): Promise<void> {
  const run = queue.then(task).then(() => undefined);
  queue = run.catch(() => undefined);
  return run;
}

/** How long slider moves settle before the edit is recomputed. */
export const RECOMPUTE_DELAY_MS = 300;

let eraseTicket = 0;
let recomputeTimer: ReturnType<typeof setTimeout> | null = null;

/** "Erase": computes the closed-form edit the concept panel describes. */
export function eraseNow(): Promise<void> {
  cancelScheduledErase();
  const { concept, updateConcept } = useStudio.getState();
  let request: EraseRequest;
  try {
    request = eraseRequestFor(concept.form);
  } catch (error) {
    updateConcept({ error: describeEngineError(error, 'erase') });
    return Promise.resolve();
  }
  const ticket = ++eraseTicket;
  return enqueueEdit(async () => {
    // Slider moves queue several recomputes; only the newest is worth running.
    if (ticket !== eraseTicket) return;
    const finished = eraseStarted(request.method);
    await changeEdit('erase', async () => {
      const summary = await engineClient().erase(request);
      finished(summary.ms.total);
      return {
        active: { kind: 'closed-form', summary },
        entry: { kind: 'recipe', id: summary.id, recipe: summary.recipe, label: editLabel(request.concepts) },
        signature: JSON.stringify(request),
      };
    });
  });
}

/**
 * Updates the concept form. With `recompute`, and while a closed-form edit is on, the edit is
 * recomputed once the user stops moving the control for RECOMPUTE_DELAY_MS.
 */
export function changeConceptForm(patch: Partial<ConceptForm> | ((form: ConceptForm) => ConceptForm), recompute = false): void {
  const { updateConcept, methodNote, setMethodNote } = useStudio.getState();
  if (methodNote !== null) setMethodNote(null);
  updateConcept((c) => ({ form: typeof patch === 'function' ? patch(c.form) : { ...c.form, ...patch } }));
  if (recompute && useStudio.getState().edit.active?.kind === 'closed-form') {
    cancelScheduledErase();
    recomputeTimer = setTimeout(() => {
      recomputeTimer = null;
      void eraseNow();
    }, RECOMPUTE_DELAY_MS);
  }
}

function cancelScheduledErase(): void {
  if (recomputeTimer !== null) clearTimeout(recomputeTimer);
  recomputeTimer = null;
}

export function undo(): Promise<void> {
  return enqueueEdit(() => move(undoEdit));
}

export function redo(): Promise<void> {
  return enqueueEdit(() => move(redoEdit));
}

/** Back to the original model (an undoable step). */
export function clearEdit(): Promise<void> {
  cancelScheduledErase();
  return enqueueEdit(() =>
    changeEdit('erase', async () => {
      await engineClient().clearEdit();
      return { active: null, entry: null, signature: null };
    }),
  );
}

/** "Open recipe": recomputes the edit a recipe file describes and fills the form from it. */
export async function openRecipe(file: File): Promise<void> {
  let text: string;
  try {
    text = await file.text();
  } catch (error) {
    useStudio.getState().updateConcept({ error: describeEngineError(error, 'recipe') });
    return;
  }
  cancelScheduledErase();
  await enqueueEdit(() => changeEdit('recipe', () => applyEntry({ kind: 'recipe', id: '', recipe: text, label: file.name })));
}

/** Makes an earlier edit (from the history, or a shared link) current again; undoable. */
export function restoreEdit(entry: EditEntry): Promise<void> {
  cancelScheduledErase();
  return enqueueEdit(() => changeEdit(entry.kind === 'lora' ? 'lora-import' : 'recipe', () => applyEntry(entry)));
}

/** "Download recipe": the current closed-form edit's canonical JSON. */
export function downloadRecipe(): void {
  const active = useStudio.getState().edit.active;
  if (active?.kind !== 'closed-form') return;
  let label = 'edit';
  try {
    label = editLabel(parseRecipe(active.summary.recipe, 'recipe').concepts);
  } catch {
    // The engine's own recipe always parses; the label is cosmetic anyway.
  }
  saveBlob(new Blob([active.summary.recipe], { type: 'application/json' }), `lethe-recipe-${fileSafe(label)}-${active.summary.id.slice(0, 8)}.json`);
}

/** Applies a LoRA file at a strength (the LoRA panel's Open and strength slider). */
export function importLoraEdit(bytes: Uint8Array, fileName: string, strength: number): Promise<void> {
  cancelScheduledErase();
  return enqueueEdit(() => changeEdit('lora-import', () => applyEntry({ kind: 'lora', id: '', bytes, fileName, strength })));
}

/** Measures how much the current edit moves the noise prediction for each prompt (one per line). */
export async function measureEdit(): Promise<void> {
  const { concept, edit, updateConcept } = useStudio.getState();
  const prompts = concept.measure.prompts.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const editId = edit.active ? (edit.active.kind === 'closed-form' ? edit.active.summary.id : edit.active.summary.editId) : null;
  if (prompts.length === 0) {
    updateConcept((c) => ({ measure: { ...c.measure, error: { title: 'Enter at least one prompt to measure.', detail: '', advice: 'One prompt per line: one with the erased concept, one without.' } } }));
    return;
  }
  updateConcept((c) => ({ measure: { ...c.measure, busy: true, error: null } }));
  try {
    const results = await engineClient().measureEdit(prompts);
    updateConcept((c) => ({ measure: { ...c.measure, busy: false, results, editId } }));
  } catch (error) {
    updateConcept((c) => ({ measure: { ...c.measure, busy: false, error: describeEngineError(error, 'measure') } }));
  }
}

interface EditChange {
  active: ActiveEdit | null;
  entry: EditEntry | null;
  /** formSignature of the form that describes the edit (closed-form edits only). */
  signature: string | null;
}

/** Runs one edit change: on success it becomes current and undoable, and the erased image follows. */
async function changeEdit(call: EngineCall, run: () => Promise<EditChange>): Promise<boolean> {
  const { updateEdit, updateConcept, updateLora } = useStudio.getState();
  const errorTo = call === 'lora-import' ? (error: unknown) => updateLora({ error: describeEngineError(error, call) }) : (error: unknown) => updateConcept({ error: describeEngineError(error, call) });
  updateEdit({ busy: true });
  if (call === 'lora-import') updateLora({ importing: true });
  await cancelEditedJobs();
  let change: EditChange;
  try {
    change = await run();
  } catch (error) {
    errorTo(error);
    // The erased image may have been cancelled for nothing: bring it back for the unchanged edit.
    void regenerateEdited();
    return false;
  } finally {
    updateEdit({ busy: false });
    if (call === 'lora-import') updateLora({ importing: false });
  }
  const previous = useStudio.getState().edit.active;
  updateEdit((e) => ({ active: change.active, formSignature: change.signature, stack: commitEdit(e.stack, change.entry, sameEditEntry) }));
  if (call === 'lora-import') updateLora({ error: null });
  else updateConcept({ error: null });
  editBecameCurrent(previous, change.active, change.entry);
  void regenerateEdited();
  return true;
}

/** One undo or redo step: the stack moves only when the engine applied the entry. */
async function move(step: (stack: EditStack<EditEntry>) => EditStack<EditEntry>): Promise<void> {
  const { edit, updateEdit, updateConcept } = useStudio.getState();
  if (step === undoEdit ? !canUndo(edit.stack) : !canRedo(edit.stack)) return;
  cancelScheduledErase();
  const next = step(edit.stack);
  updateEdit({ busy: true });
  await cancelEditedJobs();
  let active: ActiveEdit | null;
  let signature: string | null = null;
  try {
    if (next.current === null) {
      await engineClient().clearEdit();
      active = null;
    } else {
      ({ active, signature } = await applyEntry(next.current));
    }
  } catch (error) {
    updateConcept({ error: describeEngineError(error, next.current?.kind === 'lora' ? 'lora-import' : 'recipe') });
    void regenerateEdited();
    return;
  } finally {
    updateEdit({ busy: false });
  }
  const previous = useStudio.getState().edit.active;
  updateEdit({ stack: next, active, formSignature: signature });
  updateConcept({ error: null });
  editBecameCurrent(previous, active, next.current);
  void regenerateEdited();
}

/** Makes a stack entry the engine's edit; a recipe also refills the concept form. */
async function applyEntry(entry: EditEntry): Promise<EditChange> {
  const engine = engineClient();
  if (entry.kind === 'recipe') {
    const summary = await engine.applyRecipe(entry.recipe);
    const recipe = parseRecipe(summary.recipe, 'recipe');
    useStudio.getState().updateConcept((c) => ({ form: conceptFormFromRecipe(recipe, c.form) }));
    const signature = formSignature(useStudio.getState().concept.form);
    return { active: { kind: 'closed-form', summary }, entry: { kind: 'recipe', id: summary.id, recipe: summary.recipe, label: editLabel(recipe.concepts) }, signature };
  }
  // Structured clone copies the bytes, so the stack keeps its own for a later redo.
  const summary = await engine.importLora(entry.bytes, entry.fileName, entry.strength);
  useStudio.getState().updateLora((l) => ({ imported: summary, form: { ...l.form, strength: entry.strength } }));
  return { active: { kind: 'lora', summary }, entry: { kind: 'lora', id: summary.editId, bytes: entry.bytes, fileName: entry.fileName, strength: entry.strength }, signature: null };
}
