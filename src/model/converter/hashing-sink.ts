/** A PackSink wrapper that hashes (SHA-256) and counts every file as it streams through, for the manifest. */
import { Sha256 } from '../../util/sha256.ts';
import type { PackFileEntry } from '../manifest.ts';
import { contentChunks, type FileContent, type PackSink } from './files.ts';

export class HashingSink implements PackSink {
  /** Null prototype, as the manifest's `files`. */
  readonly files = Object.create(null) as Record<string, PackFileEntry>;

  constructor(private readonly inner: PackSink) {}

  async write(path: string, content: FileContent): Promise<void> {
    if (Object.hasOwn(this.files, path)) throw new Error(`converter: ${path} written twice`);
    const hash = new Sha256();
    let bytes = 0;
    let finished = false;
    async function* pass(): AsyncGenerator<Uint8Array> {
      for await (const chunk of contentChunks(content)) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        yield chunk;
      }
      finished = true;
    }
    await this.inner.write(path, pass());
    if (!finished) throw new Error(`converter: the sink stopped reading ${path} before its end`);
    this.files[path] = { sha256: hash.hexDigest(), bytes };
  }
}
