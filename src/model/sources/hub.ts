import type { OpenedFile, OpenOptions, PackSource } from './pack-source.ts';
import { fetchFile } from './http-file.ts';
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
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return fetchFile(this.fetchImpl, path, this.url(path), options, headers, (status) =>
      status === 401 || status === 403
        ? `HTTP ${status}: the repo is private or gated, or does not exist${this.token ? ' (the token was refused)' : '; a token may be needed'}`
        : null,
    );
  }
}
