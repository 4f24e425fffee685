/** A pack file that the source does not have (HTTP 404, an HTML error page, no such file on disk). */
export class FileNotFoundError extends Error {
  override readonly name = 'FileNotFoundError';
  constructor(
    readonly path: string,
    readonly location: string,
    readonly reason = '',
  ) {
    super(`file not found: ${path} (${location}${reason ? `: ${reason}` : ''})`);
  }
}

/** A source that answered, but not with the file (HTTP 401/403/5xx, a bad Content-Range, ...). */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    readonly path: string,
    readonly location: string,
    readonly detail: string,
    readonly status: number | null = null,
  ) {
    super(`cannot read ${path} from ${location}: ${detail}`);
  }
}
