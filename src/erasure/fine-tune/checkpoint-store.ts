/**
 * Where checkpoints go: a folder in Node (cli/commands/train.ts), OPFS in the browser, memory in
 * tests. A store holds one file per run name; writes replace the file whole, so a run that is
 * killed mid-write still has its last complete checkpoint (the OPFS store writes a temporary
 * file and swaps it in).
 */
import { OutputError } from '../../util/errors.ts';

export interface CheckpointStore {
  /** Where it writes, for messages ("folder ./ckpt", "browser storage (OPFS) /lethe-training"). */
  readonly description: string;
  /** The file, or null when there is none. */
  read(name: string): Promise<Uint8Array | null>;
  /** Replaces the file. A full disk or quota is a CheckpointStorageError. */
  write(name: string, bytes: Uint8Array): Promise<void>;
  remove(name: string): Promise<void>;
}

/** The storage refused a checkpoint (quota, disk full, permissions): the run stops, its last checkpoint is kept. */
export class CheckpointStorageError extends OutputError {
  constructor(
    readonly where: string,
    readonly bytes: number,
    readonly reason: string,
  ) {
    super(`Could not save the training checkpoint (${bytes} bytes) to ${where}: ${reason}. The run stopped; the last saved checkpoint is kept. Free some space (clear the model cache, or delete old runs) and resume.`);
  }
}

export class MemoryCheckpointStore implements CheckpointStore {
  readonly description = 'memory';
  readonly files = new Map<string, Uint8Array>();
  /** Fails writes above this many bytes (a stand-in for a full quota in tests). */
  quotaBytes = Infinity;

  async read(name: string): Promise<Uint8Array | null> {
    const bytes = this.files.get(name);
    return bytes ? bytes.slice() : null;
  }

  async write(name: string, bytes: Uint8Array): Promise<void> {
    if (bytes.length > this.quotaBytes) throw new CheckpointStorageError(this.description, bytes.length, `quota of ${this.quotaBytes} bytes exceeded`);
    this.files.set(name, bytes.slice());
  }

  async remove(name: string): Promise<void> {
    this.files.delete(name);
  }
}

/** OPFS: one file per run in a folder of the origin's private file system. */
export class OpfsCheckpointStore implements CheckpointStore {
  readonly description: string;

  constructor(private readonly folder = 'lethe-training') {
    this.description = `browser storage (OPFS) /${folder}`;
  }

  private async dir(): Promise<FileSystemDirectoryHandle> {
    const root = await navigator.storage.getDirectory();
    return root.getDirectoryHandle(this.folder, { create: true });
  }

  async read(name: string): Promise<Uint8Array | null> {
    try {
      const handle = await (await this.dir()).getFileHandle(name);
      return new Uint8Array(await (await handle.getFile()).arrayBuffer());
    } catch (error) {
      if ((error as DOMException).name === 'NotFoundError') return null;
      throw error;
    }
  }

  async write(name: string, bytes: Uint8Array): Promise<void> {
    const dir = await this.dir();
    const temporary = `${name}.partial`;
    try {
      const handle = await dir.getFileHandle(temporary, { create: true });
      const writable = await handle.createWritable();
      await writable.write(bytes as Uint8Array<ArrayBuffer>);
      await writable.close();
      // Copy over the old checkpoint only once the new one is complete.
      const target = await dir.getFileHandle(name, { create: true });
      const out = await target.createWritable();
      await out.write(await (await handle.getFile()).arrayBuffer());
      await out.close();
      await dir.removeEntry(temporary);
    } catch (error) {
      if ((error as DOMException).name === 'QuotaExceededError') throw new CheckpointStorageError(this.description, bytes.length, 'the browser storage quota is full');
      throw error;
    }
  }

  async remove(name: string): Promise<void> {
    const dir = await this.dir();
    for (const entry of [name, `${name}.partial`]) await dir.removeEntry(entry).catch(() => undefined);
  }
}
