/**
 * Undo/redo over edits. `current` is the edit the engine has now (null: none); undo moves it to
 * the redo side and makes the previous one current. Pure: the caller applies `current` to the
 * engine (applyRecipe, or clearEdit for null) after each move.
 */
export interface EditStack<T> {
  readonly undo: readonly (T | null)[];
  readonly current: T | null;
  readonly redo: readonly (T | null)[];
}

/** Entries beyond this are dropped from the undo side, oldest first. */
export const MAX_UNDO = 100;

export function emptyEditStack<T>(): EditStack<T> {
  return { undo: [], current: null, redo: [] };
}

/**
 * A new edit became current. Committing the entry that is already current changes nothing (a
 * slider moved and back recomputes the same recipe); anything new clears the redo side.
 */
export function commitEdit<T>(stack: EditStack<T>, entry: T | null, same: (a: T, b: T) => boolean = Object.is): EditStack<T> {
  if (sameEntry(stack.current, entry, same)) return stack;
  const undo = [...stack.undo, stack.current];
  return { undo: undo.slice(Math.max(0, undo.length - MAX_UNDO)), current: entry, redo: [] };
}

export function canUndo<T>(stack: EditStack<T>): boolean {
  return stack.undo.length > 0;
}

export function canRedo<T>(stack: EditStack<T>): boolean {
  return stack.redo.length > 0;
}

/** The stack after one undo; unchanged when there is nothing to undo. */
export function undoEdit<T>(stack: EditStack<T>): EditStack<T> {
  if (stack.undo.length === 0) return stack;
  return { undo: stack.undo.slice(0, -1), current: stack.undo[stack.undo.length - 1], redo: [stack.current, ...stack.redo] };
}

/** The stack after one redo; unchanged when there is nothing to redo. */
export function redoEdit<T>(stack: EditStack<T>): EditStack<T> {
  if (stack.redo.length === 0) return stack;
  return { undo: [...stack.undo, stack.current], current: stack.redo[0], redo: stack.redo.slice(1) };
}

function sameEntry<T>(a: T | null, b: T | null, same: (a: T, b: T) => boolean): boolean {
  if (a === null || b === null) return a === b;
  return same(a, b);
}
