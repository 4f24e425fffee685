/**
 * The page URL as a shareable erasure: `#model=<model id>&recipe=<base64url recipe JSON>`. The
 * recipe recomputes the edit bit for bit, so a link opens the same erasure on another machine.
 * Reading trusts nothing: a damaged link is reported, never half-applied.
 */
import type { DemoPreset } from '../engine/api.ts';
import type { ModelChoice } from './model-load.ts';

export type ModelRef = { kind: 'demo'; preset: DemoPreset } | { kind: 'hub'; repo: string; revision?: string };

/** Recipes are a few KiB; a link longer than this was not made by the studio. */
export const MAX_SHARED_RECIPE_CHARS = 256 * 1024;

export function modelRefText(ref: ModelRef): string {
  return ref.kind === 'demo' ? `demo:${ref.preset}` : `hub:${ref.repo}${ref.revision ? `@${ref.revision}` : ''}`;
}

/** The model id of the model panel's choice; null for a local folder (a link cannot carry it). */
export function modelRefForChoice(model: Pick<ModelChoice, 'choice' | 'demoPreset' | 'hub'>): ModelRef | null {
  if (model.choice === 'demo') return { kind: 'demo', preset: model.demoPreset };
  if (model.choice === 'hub' && model.hub.repo.trim() !== '') {
    const revision = model.hub.revision.trim();
    return revision ? { kind: 'hub', repo: model.hub.repo.trim(), revision } : { kind: 'hub', repo: model.hub.repo.trim() };
  }
  return null;
}

export function parseModelRef(text: string): ModelRef {
  const demo = /^demo:([a-z0-9][a-z0-9-]{0,40})$/.exec(text);
  if (demo) return { kind: 'demo', preset: demo[1] as DemoPreset };
  const hub = /^hub:([\w.-]+\/[\w.-]+)(?:@([\w./-]+))?$/.exec(text);
  if (hub) return hub[2] ? { kind: 'hub', repo: hub[1], revision: hub[2] } : { kind: 'hub', repo: hub[1] };
  throw new Error(`The link's model "${text.slice(0, 80)}" is neither demo:<preset> nor hub:owner/name[@revision].`);
}

export function shareHash(model: ModelRef | null, recipe: string | null): string {
  const parts: string[] = [];
  if (model) parts.push(`model=${encodeURIComponent(modelRefText(model))}`);
  if (recipe) parts.push(`recipe=${toBase64Url(recipe)}`);
  return parts.length > 0 ? `#${parts.join('&')}` : '';
}

export interface SharedErasure {
  model: ModelRef | null;
  recipe: string | null;
  /** What could not be read, in words; the rest of the link is still used. */
  problems: string[];
}

export function readShareHash(hash: string): SharedErasure {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const problems: string[] = [];
  let model: ModelRef | null = null;
  let recipe: string | null = null;
  const modelText = params.get('model');
  if (modelText !== null) {
    try {
      model = parseModelRef(modelText);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  const recipeText = params.get('recipe');
  if (recipeText !== null) {
    if (recipeText.length > MAX_SHARED_RECIPE_CHARS) problems.push(`The link's recipe is ${recipeText.length} characters long; links made by Lethe stay under ${MAX_SHARED_RECIPE_CHARS}.`);
    else {
      try {
        recipe = fromBase64Url(recipeText);
      } catch {
        problems.push('The link\'s recipe is damaged (not base64url-encoded UTF-8); ask for the link again or open the recipe file instead.');
      }
    }
  }
  return { model, recipe, problems };
}

export function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
