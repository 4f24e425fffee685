import type { OpenedFile, OpenOptions, PackSource } from './pack-source.ts';
import { fetchFile } from './http-file.ts';
import { assertPackPath } from '../pack-path.ts';

export interface WebFolderSourceOptions {
  /** Stable identity (keys the cached manifest); default "web:" + the base URL. */
  id?: string;
  description?: string;
  fetch?: typeof fetch;
}

/**
 * A pack served as plain files under one URL (the built-in demo next to the studio, any static
 * file server): `${base}${path}`, with the same HTTP handling as the hub.
 */
export class WebFolderSource implements PackSource {
  readonly id: string;
  readonly description: string;
  readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(base: string, options: WebFolderSourceOptions = {}) {
    this.base = base.endsWith('/') ? base : `${base}/`;
    this.id = options.id ?? `web:${this.base}`;
    this.description = options.description ?? `files at ${this.base}`;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  url(path: string): string {
    assertPackPath(path);
    return this.base + path.split('/').map(encodeURIComponent).join('/');
  }

  open(path: string, options: OpenOptions = {}): Promise<OpenedFile> {
    return fetchFile(this.fetchImpl, path, this.url(path), options);
  }
}
