import type { OpenOptions, PackSource } from './pack-source.ts';
import { SourceError } from './errors.ts';
import { concatBytes } from './streams.ts';
import { FormatError } from '../../util/errors.ts';

/** Reads a whole (small) file into memory; refuses files over `maxBytes` before and while reading. */
export async function readBytes(
  source: PackSource,
  path: string,
  options: Omit<OpenOptions, 'offset'> & { maxBytes?: number } = {},
): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  const opened = await source.open(path, options);
  const tooBig = (size: number) => new SourceError(path, opened.location, `${size} bytes is more than the ${maxBytes} allowed here`);
  if (opened.size !== null && opened.size > maxBytes) {
    await opened.stream.cancel();
    throw tooBig(opened.size);
  }
  const reader = opened.stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > maxBytes) {
      await reader.cancel();
      throw tooBig(length);
    }
    chunks.push(value);
  }
  return concatBytes(chunks, length);
}

/** Reads a whole (small) file as UTF-8 text. */
export async function readText(
  source: PackSource,
  path: string,
  options: Omit<OpenOptions, 'offset'> & { maxBytes?: number } = {},
): Promise<string> {
  const bytes = await readBytes(source, path, options);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(path, '(text)', 'is not valid UTF-8');
  }
}
