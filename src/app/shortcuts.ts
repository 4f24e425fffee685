import { useEffect } from 'react';
import { redo, undo } from './edit-actions.ts';
import { generatePair } from './generate-actions.ts';

/** Ctrl/Cmd+Enter generates; Ctrl/Cmd+Z and Ctrl/Cmd+Shift+Z (or Ctrl+Y) undo and redo edits. */
export function useStudioShortcuts(): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      if (event.key === 'Enter') {
        event.preventDefault();
        void generatePair();
        return;
      }
      const key = event.key.toLowerCase();
      if (key !== 'z' && key !== 'y') return;
      // Inside a text field the browser's own text undo wins.
      if (isTextEditing(event.target)) return;
      event.preventDefault();
      if (key === 'y' || event.shiftKey) void redo();
      else void undo();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

function isTextEditing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement) return true;
  return target instanceof HTMLInputElement && !['range', 'checkbox', 'radio', 'button', 'submit', 'file', 'color'].includes(target.type);
}
