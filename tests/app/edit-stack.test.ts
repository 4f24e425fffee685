import { describe, expect, test } from 'vitest';
import { canRedo, canUndo, commitEdit, emptyEditStack, MAX_UNDO, redoEdit, undoEdit, type EditStack } from '../../src/app/edit-stack.ts';

describe('undo/redo stack of edits', () => {
  test('undo walks back to no edit, redo forward again', () => {
    let s: EditStack<string> = emptyEditStack();
    expect(canUndo(s)).toBe(false);
    s = commitEdit(s, 'A');
    s = commitEdit(s, 'B');
    expect(s).toEqual({ undo: [null, 'A'], current: 'B', redo: [] });
    s = undoEdit(s);
    expect(s.current).toBe('A');
    s = undoEdit(s);
    expect(s.current).toBeNull(); // the caller clears the engine's edit
    expect(canUndo(s)).toBe(false);
    expect(undoEdit(s)).toBe(s);
    s = redoEdit(s);
    expect(s.current).toBe('A');
    s = redoEdit(s);
    expect(s.current).toBe('B');
    expect(canRedo(s)).toBe(false);
    expect(redoEdit(s)).toBe(s);
  });

  test('a new edit after undo drops the redo side', () => {
    let s: EditStack<string> = emptyEditStack();
    for (const e of ['A', 'B', 'C']) s = commitEdit(s, e);
    s = undoEdit(undoEdit(s));
    expect(s.current).toBe('A');
    s = commitEdit(s, 'D');
    expect(s).toEqual({ undo: [null, 'A'], current: 'D', redo: [] });
  });

  test('clearing is an undoable step; recommitting the current edit changes nothing', () => {
    let s: EditStack<string> = commitEdit(emptyEditStack<string>(), 'A');
    expect(commitEdit(s, 'A')).toBe(s);
    s = commitEdit(s, null);
    expect(s).toEqual({ undo: [null, 'A'], current: null, redo: [] });
    expect(undoEdit(s).current).toBe('A');
    expect(commitEdit(s, null)).toBe(s);
  });

  test('entries compare by the given equality (ids), not identity', () => {
    const same = (a: { id: string }, b: { id: string }) => a.id === b.id;
    const s = commitEdit(emptyEditStack<{ id: string }>(), { id: 'x' }, same);
    expect(commitEdit(s, { id: 'x' }, same)).toBe(s);
    expect(commitEdit(s, { id: 'y' }, same).undo).toHaveLength(2);
  });

  test('the undo side keeps the newest MAX_UNDO entries', () => {
    let s: EditStack<number> = emptyEditStack();
    for (let i = 0; i < MAX_UNDO + 10; i++) s = commitEdit(s, i);
    expect(s.undo).toHaveLength(MAX_UNDO);
    expect(s.undo[MAX_UNDO - 1]).toBe(MAX_UNDO + 8);
    expect(s.undo[0]).toBe(9);
  });
});
