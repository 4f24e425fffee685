import type { OpenedFile, OpenOptions } from './pack-source.ts';
import { FileNotFoundError, SourceError } from './errors.ts';
import { peekBytes, skipBytes } from './streams.ts';

/** Bytes looked at to tell an HTML error page from the file. */
const SNIFF_BYTES = 64;

/**
 * One pack file over HTTP, for every source that fetches (the hub, a folder served next to the
 * studio). A resumed read sends `Range: bytes=<offset>-` and accepts a 200 by skipping; a 404 or
 * an HTML page where a file was expected (servers and CDNs answer missing files both ways) is
 * FileNotFoundError, so nothing downstream parses an error page. `explainStatus` lets a source
 * word the statuses it knows more about (the hub's 401/403).
 */
export async function fetchFile(
  fetchImpl: typeof fetch,
  path: string,
  url: string,
  options: OpenOptions,
  headers: Record<string, string> = {},
  explainStatus: (status: number) => string | null = () => null,
): Promise<OpenedFile> {
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
  const requestHeaders: Record<string, string> = { ...headers };
  if (offset > 0) requestHeaders.Range = `bytes=${offset}-`;
  const init: RequestInit = { headers: requestHeaders, redirect: 'follow' };
  if (options.signal) init.signal = options.signal;
  if (options.fresh) init.cache = 'no-store';
  const response = await fetchImpl(url, init);
  const location = response.url && response.url !== url ? `${url} -> ${response.url}` : url;
  try {
    const explained = explainStatus(response.status);
    if (explained !== null) throw new SourceError(path, url, explained, response.status);
    return await accept(path, url, location, offset, response);
  } catch (error) {
    await response.body?.cancel().catch(() => undefined);
    throw error;
  }
}

async function accept(path: string, url: string, location: string, offset: number, response: Response): Promise<OpenedFile> {
  const { status } = response;
  if (status === 404 || status === 410) throw new FileNotFoundError(path, url, `HTTP ${status}`);
  if (status === 416) throw new SourceError(path, url, `HTTP 416: the server has no bytes from offset ${offset}`, status);
  if (status !== 200 && status !== 206) throw new SourceError(path, url, `HTTP ${status} ${response.statusText}`.trim(), status);

  const contentType = (response.headers.get('content-type') ?? '').toLowerCase();
  if (contentType.startsWith('text/html') && !path.endsWith('.html'))
    throw new FileNotFoundError(path, location, `the server answered with an HTML page (HTTP ${status}) instead of the file`);

  // With a content encoding, Content-Length counts encoded bytes; the decoded size is unknown.
  const encoding = (response.headers.get('content-encoding') ?? 'identity').toLowerCase();
  const lengthHeader = encoding === 'identity' ? parseLength(response.headers.get('content-length')) : null;
  let size: number | null;
  let stream = response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  if (status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (!range) throw new SourceError(path, location, `HTTP 206 with an unreadable Content-Range ${JSON.stringify(response.headers.get('content-range'))}`, status);
    if (range.start > offset) throw new SourceError(path, location, `asked for bytes from ${offset}, got a range starting at ${range.start}`, status);
    if (range.start < offset) stream = skipBytes(stream, offset - range.start);
    size = range.total;
  } else {
    // 200: the whole file, whatever we asked for; the part before `offset` is skipped.
    size = lengthHeader;
    if (offset > 0) stream = skipBytes(stream, offset);
  }
  if (offset === 0) {
    const peeked = await peekBytes(stream, SNIFF_BYTES);
    stream = peeked.stream;
    if (looksLikeHtml(peeked.head) && !path.endsWith('.html')) {
      await stream.cancel();
      throw new FileNotFoundError(path, location, `the server answered with an HTML page (HTTP ${status}) instead of the file`);
    }
  }
  return { size, stream, location };
}

function parseLength(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value.trim())) return null;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : null;
}

function parseContentRange(value: string | null): { start: number; total: number | null } | null {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!match) return null;
  const start = Number(match[1]);
  const total = match[3] === '*' ? null : Number(match[3]);
  if (!Number.isSafeInteger(start) || (total !== null && !Number.isSafeInteger(total))) return null;
  return { start, total };
}

function looksLikeHtml(head: Uint8Array): boolean {
  const text = new TextDecoder('latin1').decode(head).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  return text.startsWith('<!doctype html') || text.startsWith('<html');
}
