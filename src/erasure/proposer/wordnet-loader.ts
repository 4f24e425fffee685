/**
 * Where the WordNet index comes from: the studio fetches public/wordnet/nouns.txt from its own
 * origin (lazily, on the first "Suggest"; the browser caches it like any static file), Node (the
 * CLI, tests) reads the same file from the checkout.
 */
import { InputError } from '../../util/errors.ts';
import type { WordNetIndexLoader } from './wordnet-proposer.ts';

export const WORDNET_INDEX_PATH = 'wordnet/nouns.txt';

export function defaultWordNetLoader(): WordNetIndexLoader {
  return isNode() ? nodeLoader : browserLoader;
}

async function nodeLoader(): Promise<string> {
  const { readFile } = await importNodeOnly<typeof import('node:fs/promises')>('node:fs/promises');
  const url = new URL(`../../../public/${WORDNET_INDEX_PATH}`, import.meta.url);
  try {
    return await readFile(url, 'utf8');
  } catch (error) {
    throw new InputError(`${url.pathname}: cannot read the WordNet index (${(error as Error).message}); rebuild it with node bin/run-ts.mjs tools/wordnet/build-index.ts`);
  }
}

async function browserLoader(): Promise<string> {
  const base = typeof import.meta.env?.BASE_URL === 'string' ? import.meta.env.BASE_URL : '/';
  const url = new URL(`${base}${WORDNET_INDEX_PATH}`, globalThis.location?.href);
  const response = await fetch(url);
  if (!response.ok) throw new InputError(`${url.pathname}: the WordNet index could not be fetched (HTTP ${response.status})`);
  return response.text();
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** A node: import the browser bundle must not see (the specifier is opaque to the bundler). */
function importNodeOnly<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}
