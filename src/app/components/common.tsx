import { useId, type ReactNode } from 'react';
import type { EngineErrorView } from '../engine-error-advice.ts';
import { useStudio } from '../store.ts';

/** Engine calls need a GPU and a loaded pack; every engine button is disabled until then. */
export function useEngineReady(): boolean {
  return useStudio((s) => s.gpu.state === 'ready' && s.model.loaded !== null);
}

/** Why the engine buttons are disabled, for the panels to say so. */
export function NotReadyHint() {
  const gpuReady = useStudio((s) => s.gpu.state === 'ready');
  const loaded = useStudio((s) => s.model.loaded !== null);
  const loading = useStudio((s) => s.model.load.state === 'loading');
  if (gpuReady && loaded) return null;
  return (
    <p className="hint not-ready" data-testid="not-ready">
      {!gpuReady ? 'Waiting for the GPU (see Diagnostics).' : loading ? 'Loading the model…' : 'Load a model in step 1 first.'}
    </p>
  );
}

/** An engine error as every panel shows it: what went wrong, what to do, the raw message. */
export function EngineErrorBox({ error, testId, onDismiss }: { error: EngineErrorView | null; testId: string; onDismiss?: () => void }) {
  if (!error) return null;
  return (
    <div className="model-error engine-error" role="alert" data-testid={testId}>
      <p className="error-title">{error.title}</p>
      {error.advice && <p>{error.advice}</p>}
      {error.detail && error.detail !== error.title && error.detail !== error.advice && (
        <details>
          <summary>technical detail</summary>
          <p className="error-detail">{error.detail}</p>
        </details>
      )}
      {onDismiss && (
        <button type="button" className="secondary dismiss" onClick={onDismiss} aria-label="dismiss">
          ×
        </button>
      )}
    </div>
  );
}

export interface SliderProps {
  label: ReactNode;
  /** The number box's accessible name when the label is not plain text. */
  ariaLabel?: string;
  testId: string;
  value: number;
  min: number;
  max: number;
  step: number;
  onChange(value: number): void;
  disabled?: boolean;
  hint?: string;
}

/** A range with a number box beside it: drag for a feel, type for an exact value. */
export function Slider({ label, ariaLabel, testId, value, min, max, step, onChange, disabled, hint }: SliderProps) {
  const id = useId();
  const take = (text: string) => {
    const next = Number(text);
    if (text.trim() !== '' && Number.isFinite(next)) onChange(next);
  };
  return (
    <div className="slider" title={hint}>
      <label htmlFor={id}>{label}</label>
      <input id={id} type="range" min={min} max={max} step={step} value={Number.isFinite(value) ? value : min} onChange={(e) => take(e.target.value)} disabled={disabled} data-testid={testId} />
      <input type="number" min={min} max={max} step={step} value={Number.isFinite(value) ? value : ''} onChange={(e) => take(e.target.value)} disabled={disabled} data-testid={`${testId}-value`} aria-label={ariaLabel ?? (typeof label === 'string' ? label : testId)} />
    </div>
  );
}

/** A visible button that opens a file picker; the input itself carries the test id. */
export function FileButton({ label, accept, testId, disabled, onFile }: { label: string; accept: string; testId: string; disabled?: boolean; onFile(file: File): void }) {
  return (
    <label className={`file-button${disabled ? ' disabled' : ''}`}>
      {label}
      <input
        type="file"
        accept={accept}
        disabled={disabled}
        data-testid={testId}
        onChange={(e) => {
          const file = e.target.files?.[0];
          // Cleared so that picking the same file again fires a change.
          e.target.value = '';
          if (file) onFile(file);
        }}
      />
    </label>
  );
}
