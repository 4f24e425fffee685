import type { ReactNode } from 'react';
import { addChips, type ChipValue } from '../concept-form.ts';

export interface ChipsEditorProps {
  label: ReactNode;
  /** The input's accessible name when the label is not plain text. */
  ariaLabel?: string;
  /** The input's test id; chips get `${testId}-chip`. */
  testId: string;
  chips: readonly ChipValue[];
  draft: string;
  onDraft(text: string): void;
  /** `weightOnly`: only a weight changed (worth recomputing a live edit). */
  onChange(chips: ChipValue[], weightOnly: boolean): void;
  placeholder?: string;
  disabled?: boolean;
}

/** Concepts as removable chips, each with its weight; Enter or a comma adds what is typed. */
export function ChipsEditor({ label, ariaLabel, testId, chips, draft, onDraft, onChange, placeholder, disabled }: ChipsEditorProps) {
  const commit = () => {
    if (draft.trim() === '') return;
    onChange(addChips(chips, draft), false);
    onDraft('');
  };
  return (
    <div className="chips-editor" data-testid={`${testId}-chips`} data-count={chips.length}>
      <span className="chips-label">{label}</span>
      <div className="chips">
        {chips.map((chip, i) => (
          <span key={chip.concept} className="chip" data-testid={`${testId}-chip`} data-concept={chip.concept} data-weight={chip.weight}>
            <span className="chip-text">{chip.concept}</span>
            <input
              type="number"
              min={0.05}
              step={0.05}
              value={Number.isFinite(chip.weight) ? chip.weight : ''}
              aria-label={`weight of ${chip.concept}`}
              title="weight"
              disabled={disabled}
              onChange={(e) => onChange(chips.map((c, j) => (j === i ? { ...c, weight: e.target.value === '' ? Number.NaN : Number(e.target.value) } : c)), true)}
            />
            <button type="button" className="chip-remove" aria-label={`remove ${chip.concept}`} disabled={disabled} onClick={() => onChange(chips.filter((_, j) => j !== i), false)}>
              ×
            </button>
          </span>
        ))}
        <input
          type="text"
          className="chip-input"
          value={draft}
          placeholder={placeholder ?? 'type, then Enter'}
          spellCheck={false}
          disabled={disabled}
          data-testid={testId}
          aria-label={ariaLabel ?? (typeof label === 'string' ? label : testId)}
          onChange={(e) => {
            // A typed or pasted comma completes a chip.
            const text = e.target.value;
            const lastComma = text.lastIndexOf(',');
            if (lastComma >= 0) {
              onChange(addChips(chips, text.slice(0, lastComma)), false);
              onDraft(text.slice(lastComma + 1).trimStart());
            } else onDraft(text);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              commit();
            } else if (e.key === 'Backspace' && draft === '' && chips.length > 0) onChange(chips.slice(0, -1), false);
          }}
          onBlur={commit}
        />
      </div>
    </div>
  );
}
