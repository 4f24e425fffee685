/**
 * What follows an edit change: its column in the comparison grid, its place in the history, the
 * page URL that shares it. Also the start-up side: history from storage, an erasure from a link.
 */
import type { ErasureMethod } from '../erasure/recipe.ts';
import { parseRecipe } from '../erasure/recipe.ts';
import { editLabel } from './concept-form.ts';
import { restoreEdit } from './edit-actions.ts';
import { HISTORY_STORAGE_KEY, parseHistory, serializeHistory, withHistoryItem, type HistoryItem } from './edit-history.ts';
import { editInWords } from './edit-words.ts';
import { fillGrid, gridEditChanged, takeGridPrompts } from './grid-actions.ts';
import { modelRefForChoice, readShareHash, shareHash } from './share-link.ts';
import { useStudio } from './store.ts';
import { activeEditId, type ActiveEdit, type EditEntry } from './studio-state.ts';

const METHOD_NAME: Record<ErasureMethod, string> = { uce: 'UCE', realera: 'RealEra' };

/** A column and history label: "UCE · cat", "LoRA · file.safetensors ×0.5". */
export function editColumnLabel(active: ActiveEdit): string {
  if (active.kind === 'lora') return `LoRA · ${active.summary.fileName}${active.summary.strength === 1 ? '' : ` ×${active.summary.strength}`}`;
  try {
    const recipe = parseRecipe(active.summary.recipe, 'recipe');
    return `${METHOD_NAME[recipe.method]} · ${editLabel(recipe.concepts)}`;
  } catch {
    return `edit ${active.summary.id.slice(0, 8)}`;
  }
}

/** Times an erase for the next estimate; call the result with the engine's measured total. */
export function eraseStarted(method: ErasureMethod): (ms: number) => void {
  return (ms) => useStudio.getState().updateTimings((t) => ({ eraseMs: { ...t.eraseMs, [method]: ms } }));
}

/** Set while a shared link's recipe is applied at start-up: no images are made until asked. */
let quietStart = false;

export function editBecameCurrent(previous: ActiveEdit | null, next: ActiveEdit | null, entry: EditEntry | null): void {
  const nextId = activeEditId(next);
  gridEditChanged(activeEditId(previous), next && nextId ? { editId: nextId, label: editColumnLabel(next), pinned: false } : null);
  if (next && entry) rememberEdit(next, entry);
  syncShareUrl();
  const { grid } = useStudio.getState();
  // Opening a link shows the erasure at once; its images (minutes on a slow GPU) wait for the user.
  if (quietStart) return;
  if (next && (grid.rows.length > 0 || takeGridPrompts())) fillGrid();
}

function rememberEdit(active: ActiveEdit, entry: EditEntry): void {
  const { model, setHistory } = useStudio.getState();
  let words = '';
  let method: HistoryItem['method'] = 'lora';
  if (active.kind === 'closed-form') {
    try {
      const recipe = parseRecipe(active.summary.recipe, 'recipe');
      words = editInWords(recipe, active.summary).headline;
      method = recipe.method;
    } catch {
      words = '';
    }
  } else words = `${active.summary.applied.length} projections changed by ${active.summary.fileName} at strength ${active.summary.strength}.`;
  const item: HistoryItem = { id: activeEditId(active)!, label: editColumnLabel(active), method, words, packId: model.loaded?.id ?? null, at: Date.now(), entry };
  setHistory((history) => withHistoryItem(history, item));
  saveHistory();
}

export function restoreHistoryItem(item: HistoryItem): Promise<void> {
  return restoreEdit(item.entry);
}

export function forgetHistory(): void {
  useStudio.getState().setHistory([]);
  saveHistory();
}

function saveHistory(): void {
  try {
    localStorage.setItem(HISTORY_STORAGE_KEY, serializeHistory(useStudio.getState().history));
  } catch {
    // Storage full or disabled: the history still works for this session.
  }
}

function loadHistory(): void {
  let text: string | null = null;
  try {
    text = localStorage.getItem(HISTORY_STORAGE_KEY);
  } catch {
    text = null;
  }
  useStudio.getState().setHistory(parseHistory(text));
}

/** The recipe of a shared link, applied once the pack has loaded. */
let sharedRecipe: string | null = null;

/** Start-up: stored history, and the model and recipe a shared link names. */
export function readStartState(): void {
  loadHistory();
  if (typeof location === 'undefined' || location.hash.length <= 1) return;
  const shared = readShareHash(location.hash);
  const { updateModel, notify } = useStudio.getState();
  for (const problem of shared.problems) notify(problem);
  if (shared.model?.kind === 'demo') updateModel({ choice: 'demo', demoPreset: shared.model.preset });
  else if (shared.model?.kind === 'hub') {
    const { repo, revision } = shared.model;
    updateModel((m) => ({ choice: 'hub', hub: { ...m.hub, repo, revision: revision ?? '' } }));
  }
  sharedRecipe = shared.recipe;
}

/** After a pack loaded: the shared link's erasure, if one waits. */
export async function applySharedRecipe(): Promise<void> {
  const recipe = sharedRecipe;
  sharedRecipe = null;
  if (recipe === null) return;
  quietStart = true;
  try {
    await restoreEdit({ kind: 'recipe', id: '', recipe, label: 'shared link' });
  } finally {
    quietStart = false;
  }
}

/** The page URL carries the model id and the current recipe, so copying it shares the erasure. */
export function syncShareUrl(): void {
  if (typeof history === 'undefined' || typeof location === 'undefined') return;
  const { model, edit } = useStudio.getState();
  const recipe = edit.active?.kind === 'closed-form' ? edit.active.summary.recipe : null;
  const hash = shareHash(modelRefForChoice(model), recipe);
  if (hash === location.hash || (hash === '' && location.hash === '')) return;
  history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
}

/** The link to the current erasure (the page URL), for the Copy link button. */
export function shareableLink(): string {
  return typeof location === 'undefined' ? '' : location.href;
}
