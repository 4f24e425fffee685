import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the Hugging Face hub, on 127.0.0.1 and a free port, for loader tests.
 *   GET /{owner}/{name}/resolve/{revision}/{path}
 *     .json/.txt and small files (< lfsThreshold bytes): served directly, like git-stored files
 *     other files: 302 to /cdn/{owner}/{name}/{revision}/{path}?sig=..., like LFS files
 *     missing files: an HTML 404 page (or, with `missingStyle`, an HTML page with status 200)
 *   GET /cdn/...: the bytes, with Range support (206 + Content-Range, 416 when unsatisfiable).
 * Switches: `cutNext(path, afterBytes)` ends the next response for a file mid-body by destroying
 * the socket; `ignoreRange` answers 200 with the whole file to Range requests; `token` requires
 * `Authorization: Bearer <token>` (401 otherwise). CORS headers as the hub sends them, so a
 * browser page on another port can use it. Every request lands in `log`.
 */
export interface HubLogEntry {
  method: string;
  url: string;
  kind: 'resolve' | 'cdn' | 'other';
  path: string | null;
  range: string | null;
  status: number;
  /** Body bytes sent (fewer than planned when the response was cut). */
  bytesSent: number;
}

export type MissingStyle = '404-html' | '200-html' | '200-html-octet-stream';

const MAX_LOG = 10_000;
const MAX_REQUESTS = 5_000;

export class HubServer {
  readonly log: HubLogEntry[] = [];
  ignoreRange = false;
  missingStyle: MissingStyle = '404-html';
  token: string | null = null;
  lfsThreshold = 1024;
  private readonly repos = new Map<string, Map<string, Uint8Array>>();
  private readonly cuts = new Map<string, number[]>();
  private requests = 0;

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<HubServer> {
    const server = createServer();
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const hub = new HubServer(server, `http://127.0.0.1:${port}`);
    server.on('request', (req, res) => hub.handle(req, res));
    return hub;
  }

  /** Serves `files` as repo@revision (replacing what was there). */
  setRepo(repo: string, files: Map<string, Uint8Array>, revision = 'main'): void {
    this.repos.set(`${repo}@${revision}`, new Map(files));
  }

  setFile(repo: string, path: string, data: Uint8Array | null, revision = 'main'): void {
    const files = this.repos.get(`${repo}@${revision}`) ?? new Map<string, Uint8Array>();
    if (data) files.set(path, data);
    else files.delete(path);
    this.repos.set(`${repo}@${revision}`, files);
  }

  /** The next response carrying `path`'s bytes stops after `afterBytes` body bytes (once per call). */
  cutNext(path: string, afterBytes: number): void {
    this.cuts.set(path, [...(this.cuts.get(path) ?? []), afterBytes]);
  }

  /** Requests that carried (or were meant to carry) a file's bytes, resolve and CDN alike. */
  requestsFor(path: string): HubLogEntry[] {
    return this.log.filter((entry) => entry.path === path);
  }

  clearLog(): void {
    this.log.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const entry: HubLogEntry = { method: req.method ?? '', url: req.url ?? '', kind: 'other', path: null, range: req.headers.range ?? null, status: 0, bytesSent: 0 };
    if (this.log.length < MAX_LOG) this.log.push(entry);
    // Like the hub, allow any origin, so a page in a browser test can load from this server.
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'content-length, content-range, accept-ranges, content-type');
    const reply = (status: number, headers: Record<string, string | number>, body?: Uint8Array | string) => {
      entry.status = status;
      res.writeHead(status, headers);
      res.end(body);
      if (body) entry.bytesSent = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    };
    if (++this.requests > MAX_REQUESTS) return reply(429, { 'content-type': 'text/plain' }, 'test hub: too many requests');

    const url = new URL(req.url ?? '/', this.endpoint);
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (req.method === 'OPTIONS')
      return reply(204, { 'access-control-allow-headers': 'authorization, range', 'access-control-allow-methods': 'GET, HEAD', 'access-control-max-age': 600 });
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, { 'content-type': 'text/plain' }, 'method not allowed');
    if (this.token !== null && req.headers.authorization !== `Bearer ${this.token}`)
      return reply(401, { 'content-type': 'application/json' }, JSON.stringify({ error: 'Invalid credentials' }));

    if (parts[0] === 'cdn' && parts.length >= 5) {
      entry.kind = 'cdn';
      const [, owner, name, revision, ...rest] = parts;
      entry.path = rest.join('/');
      const data = this.repos.get(`${owner}/${name}@${revision}`)?.get(entry.path);
      if (!data) return reply(404, { 'content-type': 'text/html; charset=utf-8' }, htmlPage('404 Not Found'));
      return this.sendBytes(req, res, entry, data);
    }
    if (parts.length >= 5 && parts[2] === 'resolve') {
      entry.kind = 'resolve';
      const [owner, name, , revision, ...rest] = parts;
      entry.path = rest.join('/');
      const data = this.repos.get(`${owner}/${name}@${revision}`)?.get(entry.path);
      if (!data) {
        if (this.missingStyle === '404-html') return reply(404, { 'content-type': 'text/html; charset=utf-8' }, htmlPage('404 – Hugging Face'));
        const type = this.missingStyle === '200-html' ? 'text/html; charset=utf-8' : 'application/octet-stream';
        return reply(200, { 'content-type': type }, htmlPage('Entry not found'));
      }
      if (data.length >= this.lfsThreshold && !/\.(json|txt)$/.test(entry.path)) {
        const target = `/cdn/${owner}/${name}/${encodeURIComponent(revision)}/${rest.map(encodeURIComponent).join('/')}?sig=${data.length}`;
        return reply(302, { location: target, 'content-type': 'text/plain' }, `Found. Redirecting to ${target}`);
      }
      return this.sendBytes(req, res, entry, data);
    }
    reply(404, { 'content-type': 'text/html; charset=utf-8' }, htmlPage('404'));
  }

  private sendBytes(req: IncomingMessage, res: ServerResponse, entry: HubLogEntry, data: Uint8Array): void {
    let start = 0;
    let end = data.length;
    let status = 200;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
    const range = req.headers.range;
    if (range && !this.ignoreRange) {
      // "bytes=N-" (resumed downloads) and "bytes=N-M" (transformers.js probes a file with 0-0).
      const match = /^bytes=(\d+)-(\d*)$/.exec(range);
      start = match ? Number(match[1]) : -1;
      if (match && match[2] !== '' && Number(match[2]) >= start) end = Math.min(Number(match[2]) + 1, data.length);
      if (start < 0 || start >= data.length) {
        entry.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${data.length}` });
        res.end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end - 1}/${data.length}`;
    }
    const body = data.subarray(start, end);
    headers['content-length'] = body.length;
    entry.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const cuts = this.cuts.get(entry.path ?? '');
    const cut = cuts?.shift();
    if (cut === undefined) {
      res.end(body);
      entry.bytesSent = body.length;
      return;
    }
    const sent = body.subarray(0, Math.min(cut, body.length));
    entry.bytesSent = sent.length;
    res.write(sent, () => res.socket?.destroy());
  }
}

function htmlPage(title: string): string {
  return `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>\n`;
}
