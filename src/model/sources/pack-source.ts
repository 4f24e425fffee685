/**
 * Where a pack's files come from: a hub repo, a local folder (Node or browser). A source only
 * reads; verifying and caching is the loader's job, so every source stays a few dozen lines.
 */

export interface OpenOptions {
  /** Start reading at this byte (to resume a partial download). Default 0. */
  offset?: number;
  signal?: AbortSignal;
  /** Bypass any HTTP cache (manifest.json must always be current). */
  fresh?: boolean;
}

export interface OpenedFile {
  /** Size of the whole file in bytes (not of the remaining part), or null where the source cannot tell. */
  size: number | null;
  /** The file's bytes from `offset` to its end. */
  stream: ReadableStream<Uint8Array>;
  /** Where the bytes came from, for messages (URL or file path). */
  location: string;
}

export interface PackSource {
  /** Stable identity of this pack location; keys the cached copy of its manifest. */
  readonly id: string;
  /** Human-readable, for messages ("hub huggingface.co/owner/repo@main", "folder /data/pack"). */
  readonly description: string;
  /** Opens a file by its pack path. A missing file rejects with FileNotFoundError. */
  open(path: string, options?: OpenOptions): Promise<OpenedFile>;
  /** Every file path in the pack, where the source can enumerate (local folders; not the hub). */
  list?(): Promise<string[]>;
}
