/**
 * How a failed `lethe` command ends: one line on stderr (`lethe <command>: what, where, what to
 * do`) and an exit code that says which kind of failure it was. Every error that escapes a
 * command comes through describeFailure(), so a wrong path is never a Node stack trace.
 */

/** The exit codes of `lethe` (README, "The `lethe` command line"). */
export const EXIT_CODES = {
  /** Done. */
  ok: 0,
  /** An input was read but is not usable: damaged, truncated, the wrong kind, or does not fit the pack. */
  invalidInput: 1,
  /** Flags: unknown, missing, malformed or out of range. */
  usage: 2,
  /** A file, folder or hub repo that was named does not exist. */
  notFound: 3,
  /** An output file or folder cannot be written (no such folder, not writable, disk full). */
  output: 4,
  /** The model cache cannot store a file (full, over LETHE_CACHE_MAX_BYTES, not writable). */
  cache: 5,
  /** No usable WebGPU adapter. */
  gpu: 6,
  /** The hub or another server answered with an error, or could not be reached. */
  source: 7,
  /** Interrupted (Ctrl-C, an abort). */
  aborted: 130,
  /** A bug in Lethe: an error no check anticipated (--debug prints its stack). */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export interface CliFailure {
  code: ExitCode;
  /** One line, without the `lethe <command>: ` prefix. */
  message: string;
}

/** Node's errno errors (fs): the code says what happened, the path where. */
interface ErrnoLike {
  code?: unknown;
  path?: unknown;
  syscall?: unknown;
}

/**
 * The exit code and one-line message for an error that escaped a command. Works from the error's
 * name (the classes of src/util/errors.ts, the pack loader's, the cache's) and, for errors from
 * Node's fs, its errno code.
 */
export function describeFailure(error: unknown): CliFailure {
  const name = error instanceof Error ? error.name : '';
  const message = oneLine(error instanceof Error ? error.message : String(error));
  switch (name) {
    case 'UsageError':
      return { code: EXIT_CODES.usage, message };
    case 'InputNotFoundError':
      return { code: EXIT_CODES.notFound, message };
    case 'FileNotFoundError':
      return {
        code: EXIT_CODES.notFound,
        message: /^file not found: manifest\.json\b/.test(message)
          ? `${message}: not a Lethe pack; give the pack folder (the one with manifest.json), demo, or hub:owner/name`
          : `${message}: the folder is incomplete; copy or export it again`,
      };
    case 'IntegrityError':
      return { code: EXIT_CODES.invalidInput, message: `${message}: the pack's file does not match its manifest.json; copy or convert the pack again` };
    case 'FormatError':
      // A file the format requires is absent (a folder of the wrong kind, an incomplete copy).
      if (/^\(files?\)$/.test(String((error as { field?: unknown }).field)) && /^missing\b/.test(String((error as { detail?: unknown }).detail)))
        return { code: EXIT_CODES.notFound, message: `${message}; check that the folder is the right kind and complete` };
      return { code: EXIT_CODES.invalidInput, message: `${message}; the file is damaged or not the kind of file expected here` };
    case 'InputError':
    case 'LoraBaseMismatchError':
    case 'ConditionError':
    case 'RealEraWindowError':
    case 'NoPackLoadedError':
    case 'ShapeError':
      return { code: EXIT_CODES.invalidInput, message };
    case 'OutputError':
      return { code: EXIT_CODES.output, message };
    case 'CacheWriteError':
    case 'StorageFullError':
      return { code: EXIT_CODES.cache, message };
    case 'WebGpuUnavailableError':
      return { code: EXIT_CODES.gpu, message };
    case 'SourceError':
      return { code: EXIT_CODES.source, message: `${message}; check the repo id, the network and $HF_TOKEN, then retry (downloaded files are kept)` };
    case 'AbortError':
      return { code: EXIT_CODES.aborted, message: 'interrupted; files already in the cache are kept' };
  }
  const errno = fsFailure(error as ErrnoLike, message);
  if (errno) return errno;
  if (name === 'SyntaxError') return { code: EXIT_CODES.invalidInput, message: `not valid JSON (${message})` };
  return {
    code: EXIT_CODES.internal,
    message: `internal error: ${name || 'thrown value'}: ${message}; this is a bug in Lethe: rerun with --debug for the stack and report it`,
  };
}

function fsFailure(error: ErrnoLike, message: string): CliFailure | null {
  if (typeof error?.code !== 'string') return null;
  const where = typeof error.path === 'string' ? error.path : 'a file';
  switch (error.code) {
    case 'ENOENT':
      return { code: EXIT_CODES.notFound, message: `no such file or folder: ${where}; check the path` };
    case 'ENOTDIR':
      return { code: EXIT_CODES.notFound, message: `${where}: a part of the path is a file, not a folder; check the path` };
    case 'EISDIR':
      return { code: EXIT_CODES.invalidInput, message: `${where} is a folder; give a file` };
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return { code: EXIT_CODES.output, message: `permission denied: ${where}; choose a path you can write` };
    case 'ENOSPC':
    case 'EDQUOT':
      return { code: EXIT_CODES.output, message: `the disk is full (writing ${where}); free some space and retry` };
  }
  return error.syscall ? { code: EXIT_CODES.invalidInput, message: `${message}; check ${where}` } : null;
}

/** Messages can carry newlines (advice lists); the CLI's failure line is one line. */
function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .join('; ');
}

/** The failure line as printed. */
export function failureLine(command: string, failure: CliFailure): string {
  return `lethe ${command}: ${failure.message}`;
}
