import { formatBytes } from '../../gpu/device.ts';

/**
 * The cache ran out of space while storing a file (the browser's storage quota, a full disk).
 * Whatever was verified before stays cached and the partial file stays for a resumed download;
 * the message says how much more space the load needs, when the loader knows it.
 */
export class StorageFullError extends Error {
  override readonly name = 'StorageFullError';
  constructor(
    /** Where the cache lives (BlobCache.description). */
    readonly where: string,
    /** The pack path being stored. */
    readonly label: string,
    /** Bytes of that file kept for a resume. */
    readonly keptBytes: number,
    /** Bytes the load still needs (this file's rest and the files after it); null when unknown. */
    readonly neededBytes: number | null = null,
    override readonly cause?: unknown,
  ) {
    super(
      `${where} is full (storage quota or disk) while storing ${label} after ${formatBytes(keptBytes)}` +
        (neededBytes === null ? '' : `; this pack needs ${formatBytes(neededBytes)} more`) +
        '. Files already verified and the partial file are kept, so the next load resumes. ' +
        (neededBytes === null ? 'Free space' : `Free at least ${formatBytes(neededBytes)}`) +
        ": clear Lethe's cache of models you no longer use or other sites' data, or load the fp16 pack of this model.",
    );
  }

  /** The same error, naming the cache and counting in the rest of the load. */
  withNeededBytes(where: string, neededBytes: number): StorageFullError {
    return new StorageFullError(where, this.label, this.keptBytes, neededBytes, this.cause);
  }
}

/** True for the errors a full quota or disk raises: DOMException QuotaExceededError, Node's ENOSPC / EDQUOT. */
export function isStorageFull(error: unknown): boolean {
  const named = error as { name?: unknown; code?: unknown } | null;
  return named?.name === 'QuotaExceededError' || named?.code === 'ENOSPC' || named?.code === 'EDQUOT';
}
