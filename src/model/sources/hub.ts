import type { OpenedFile, OpenOptions, PackSource } from './pack-source.ts';
import { FileNotFoundError, SourceError } from './errors.ts';
import { peekBytes, skipBytes } from './streams.ts';
import { assertPackPath } from '../pack-path.ts';

export interface HubSourceOptions {
  /** "owner/name" (or a legacy single-name repo). */
  repo: string;
  /** Branch, tag or commit. Default "main". */
  revision?: string;
  /** Default https://huggingface.co; any server with the same /{repo}/resolve/{rev}/{path} layout works. */
  endpoint?: string;
  /** Access token for private or gated repos, sent as `Authorization: Bearer`. */
  token?: string;
  /** Injected fetch (tests, proxies). Default globalThis.fetch. */
  fetch?: typeof fetch;
}

const REPO = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** Bytes looked at to tell an HTML error page from the file. */
const SNIFF_BYTES = 64;

/**
 * A pack in a Hugging Face hub repo (or a mirror with the same URL layout), read with fetch, so
 * the same code runs in browsers and Node 20. Redirects (to the CDN) are followed by fetch; a
 * resumed read sends `Range: bytes=<offset>-`. Hubs and CDNs answer a missing file with a 404 or
 * with an HTML page (sometimes with status 200); both become FileNotFoundError here, so nothing
 * downstream tries to parse an error page as ONNX.
 */
export class HubSource implements PackSource {
  readonly id: string;
  readonly description: string;
  readonly repo: string;
  readonly revision: string;
  readonly endpoint: string;
  private readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(options: HubSourceOptions) {
    if (!REPO.test(options.repo)) throw new RangeError(`hub repo must look like "owner/name", got ${JSON.stringify(options.repo)}`);
    const revision = options.revision ?? 'main';
    if (revision.length === 0 || revision.length > 256) throw new RangeError(`hub revision must be 1 to 256 characters, got ${JSON.stringify(revision)}`);
    const endpoint = (options.endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+/.test(endpoint)) throw new RangeError(`hub endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
    this.repo = options.repo;
    this.revision = revision;
    this.endpoint = endpoint;
    this.token = options.token;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.id = `hub:${endpoint}/${this.repo}@${revision}`;
    this.description = `hub ${endpoint.replace(/^https?:\/\//, '')}/${this.repo}@${revision}`;
  }

  /** The resolve URL of a pack file. */
  url(path: string): string {
    assertPackPath(path);
    const encodedPath = path.split('/').map(encodeURIComponent).join('/');
    // A revision such as "refs/pr/1" is one URL segment on the hub, so its slashes are escaped.
    return `${this.endpoint}/${this.repo}/resolve/${encodeURIComponent(this.revision)}/${encodedPath}`;
  }

  async open(path: string, options: OpenOptions = {}): Promise<OpenedFile> {
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
    const url = this.url(path);
    const headers: Record<string, string> = {};
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const init: RequestInit = { headers, redirect: 'follow' };
    if (options.signal) init.signal = options.signal;
    if (options.fresh) init.cache = 'no-store';
    const response = await this.fetchImpl(url, init);
    const location = response.url && response.url !== url ? `${url} -> ${response.url}` : url;
    try {
      return await this.accept(path, url, location, offset, response);
    } catch (error) {
      await response.body?.cancel().catch(() => undefined);
      throw error;
    }
  }

  private async accept(path: string, url: string, location: string, offset: number, response: Response): Promise<OpenedFile> {
    const { status } = response;
    if (status === 404 || status === 410) throw new FileNotFoundError(path, url, `HTTP ${status}`);
    if (status === 401 || status === 403)
      throw new SourceError(path, url, `HTTP ${status}: the repo is private or gated, or does not exist${this.token ? ' (the token was refused)' : '; a token may be needed'}`, status);
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
