/** A model or data file that does not follow its format. Names the file and the field. */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(
    readonly file: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${file}: ${field}: ${detail}`);
  }
}

/** Tensor shapes that do not fit an operation. */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

/** Bad user input (CLI flags, recipe fields, UI values): says what was expected. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** A file or folder the user named does not exist (a CLI path, a picked file that vanished). */
export class InputNotFoundError extends Error {
  override readonly name = 'InputNotFoundError';
}

/** An output (a file or folder the user asked for) cannot be written; nothing partial is left. */
export class OutputError extends Error {
  override readonly name = 'OutputError';
}

/** The model cache cannot store a file: its folder cannot be created or written (a full cache is StorageFullError). */
export class CacheWriteError extends Error {
  override readonly name = 'CacheWriteError';
}
