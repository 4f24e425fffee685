/**
 * `window.__lethe`: read-only access for end-to-end tests to what the studio shows, so they can
 * compare pixels exactly instead of through screenshots.
 *
 * Installed in development and test builds (`import.meta.env.MODE !== 'production'`) and, in a
 * production build, only when the page URL carries `?testing` (the e2e tests run the production
 * build). It exposes:
 *   lastPair        the pair on show: { original, edited } RGBA (Uint8ClampedArray, or null
 *                   while not generated), their job ids and states, the edit id the edited image
 *                   was made with, seed, width, height; null before the first Generate;
 *   editId          the edit the engine applies now (null: none);
 *   compareLastPair() pixel comparison of the pair on show (null while incomplete);
 *   measureEdit(prompts, options?) the engine's measureEdit, straight through.
 */
import type { EditEffect } from '../engine/api.ts';
import { engineClient } from './engine-client.ts';
import { compareRgba, type PixelDifference } from './image-compare.ts';
import { useStudio } from './store.ts';
import { activeEditId, shownPair, type ImageJobState } from './studio-state.ts';

export interface LethePairView {
  original: Uint8ClampedArray | null;
  edited: Uint8ClampedArray | null;
  originalState: ImageJobState;
  editedState: ImageJobState;
  originalJob: string | null;
  editedJob: string | null;
  /** The edit the edited image was generated with (null: no edit). */
  editedEditId: string | null;
  seed: number;
  width: number | null;
  height: number | null;
}

export interface LetheTestHooks {
  readonly lastPair: LethePairView | null;
  readonly editId: string | null;
  compareLastPair(): PixelDifference | null;
  measureEdit(prompts: string[], options?: { seed?: number; timestep?: number }): Promise<EditEffect[]>;
}

declare global {
  interface Window {
    __lethe?: LetheTestHooks;
  }
}

export function testHooksEnabled(mode: string = import.meta.env.MODE, search: string = globalThis.location?.search ?? ''): boolean {
  return mode !== 'production' || new URLSearchParams(search).has('testing');
}

export function installTestHooks(): void {
  if (!testHooksEnabled() || window.__lethe) return;
  const hooks: LetheTestHooks = {
    get lastPair() {
      const pair = shownPair(useStudio.getState().generation);
      if (!pair) return null;
      const image = pair.original.image ?? pair.edited.image;
      return {
        original: pair.original.image?.rgba ?? null,
        edited: pair.edited.image?.rgba ?? null,
        originalState: pair.original.state,
        editedState: pair.edited.state,
        originalJob: pair.original.jobId,
        editedJob: pair.edited.jobId,
        editedEditId: pair.edited.image?.editId ?? null,
        seed: pair.settings.seed,
        width: image?.width ?? null,
        height: image?.height ?? null,
      };
    },
    get editId() {
      return activeEditId(useStudio.getState().edit.active);
    },
    compareLastPair() {
      const pair = shownPair(useStudio.getState().generation);
      const a = pair?.original.image?.rgba;
      const b = pair?.edited.image?.rgba;
      return a && b && a.length === b.length ? compareRgba(a, b) : null;
    },
    measureEdit: (prompts, options) => engineClient().measureEdit(prompts, options),
  };
  Object.defineProperty(window, '__lethe', { value: hooks, configurable: true });
}
