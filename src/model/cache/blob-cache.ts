import { isSha256Hex } from '../../util/sha256.ts';

/**
 * A content-addressed store of pack files, keyed by sha256. Nothing enters it unverified: a writer
 * hashes the bytes on the way in and the blob appears only after size and hash match. An
 * interrupted write stays behind as a partial blob that the next writer for the same hash resumes.
 */
export interface BlobCache {
  /** Human-readable location, for messages. */
  readonly description: string;
  has(sha256: string): Promise<boolean>;
  /** Size of a complete blob, or null when the cache does not hold it. */
  sizeOf(sha256: string): Promise<number | null>;
  get(sha256: string): Promise<CachedBlob | null>;
  /** Stores a whole stream (no resume), verifying it; rejects with IntegrityError on a mismatch. */
  put(sha256: string, stream: ReadableStream<Uint8Array>, options?: WriteOptions): Promise<void>;
  /** Opens a writer that continues an earlier partial write of the same blob (see BlobWriter.offset). */
  openWriter(sha256: string, options?: WriteOptions & { resume?: boolean }): Promise<BlobWriter>;
  /** Removes a blob and any partial write of it. */
  delete(sha256: string): Promise<void>;
  /** Bytes used by complete and partial blobs. */
  sizeBytes(): Promise<number>;
  /** Removes every blob, partial and ref. */
  clear(): Promise<void>;
  /** The complete blobs. */
  list(): Promise<CachedBlobInfo[]>;
  /** A named pointer to a blob (e.g. the last manifest seen for a pack source), for offline use. */
  readRef(name: string): Promise<string | null>;
  writeRef(name: string, sha256: string): Promise<void>;
}

export interface CachedBlobInfo {
  sha256: string;
  bytes: number;
}

export interface CachedBlob {
  readonly size: number;
  stream(): ReadableStream<Uint8Array>;
  bytes(): Promise<Uint8Array>;
}

export interface WriteOptions {
  /** The size the blob must have; more bytes abort the write at once. */
  expectedBytes?: number;
  /** What the blob is (a pack path), for error messages. Default: the hash. */
  label?: string;
  signal?: AbortSignal;
}

export interface BlobWriter {
  readonly sha256: string;
  /** Bytes already present when the writer opened (from an interrupted earlier write). */
  readonly offset: number;
  /** Bytes present now, `offset` included. */
  readonly bytesWritten: number;
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Checks size and hash. On a match the blob becomes visible to has/get; on a mismatch the
   * partial data is deleted and the promise rejects with IntegrityError.
   */
  commit(): Promise<void>;
  /** Stops without committing; `keep` (default true) leaves the partial data for a later resume. */
  close(options?: { keep?: boolean }): Promise<void>;
}

/** Bytes that do not match the size or sha256 they were promised to have. */
export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
  constructor(
    readonly label: string,
    readonly expectedSha256: string,
    readonly actualSha256: string | null,
    readonly expectedBytes: number | null,
    readonly actualBytes: number,
  ) {
    super(
      actualSha256 === null
        ? `${label}: expected ${expectedBytes} bytes, got ${actualBytes}${expectedBytes !== null && actualBytes > expectedBytes ? ' or more' : ''}; the download was discarded`
        : `${label}: sha256 mismatch: expected ${expectedSha256}, got ${actualSha256} (${actualBytes} bytes); the download was discarded`,
    );
  }
}

export function assertSha256(sha256: string): void {
  if (!isSha256Hex(sha256)) throw new RangeError(`expected a sha256 as 64 lowercase hex characters, got ${JSON.stringify(sha256)}`);
}
