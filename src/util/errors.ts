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
