import { useMemo, useRef, type ReactNode } from 'react';
import { SCHEDULER_KINDS, type SchedulerKind } from '../../pipeline/schedulers/scheduler.ts';
import { fileSafe, saveBlob } from '../downloads.ts';
import { cancelGeneration, generatePair, rollSeed, showPair } from '../generate-actions.ts';
import { numberField, pairSettingsFor, SIZE_CHOICES, type GenerateForm, type SizeChoice } from '../generate-form.ts';
import { compareRgba, describeDifference } from '../image-compare.ts';
import { percent } from '../model-load.ts';
import { useStudio } from '../store.ts';
import { activeEditId, pendingJobs, shownPair, type ImagePair, type ImageSlot, type Variant } from '../studio-state.ts';
import { EngineErrorBox, NotReadyHint, useEngineReady } from './common.tsx';
import { ImageCanvas } from './ImageCanvas.tsx';

const SCHEDULER_LABELS: Record<SchedulerKind, string> = { ddim: 'DDIM', euler_a: 'Euler ancestral', dpmpp_2m: 'DPM++ 2M' };

export function GeneratePanel() {
  const ready = useEngineReady();
  const busy = useStudio((s) => pendingJobs(s.generation).length > 0);
  const form = useStudio((s) => s.generation.form);
  // A field out of range is said while typing, and Generate waits until it is fixed.
  const invalid = useMemo(() => formProblem(form), [form]);
  const formError = useStudio((s) => s.generation.formError) ?? invalid;
  return (
    <section className="panel generate-panel" data-testid="generate-panel">
      <h2>Try your own prompt</h2>
      <GenerateFields disabled={!ready} />
      <div className="button-row">
        <button type="button" onClick={() => void generatePair()} disabled={!ready || busy || invalid !== null} data-testid="generate" title="Ctrl+Enter (⌘+Enter)">
          {busy ? 'Generating…' : 'Generate'}
        </button>
        <button type="button" className="secondary" onClick={() => void cancelGeneration()} disabled={!busy} data-testid="cancel">
          Cancel
        </button>
        <span className="hint">Ctrl+Enter makes the original and the erased image with the same seed. These sampling settings are also the comparison's.</span>
      </div>
      <NotReadyHint />
      {formError && (
        <p className="error" role="alert" data-testid="generate-form-error">
          {formError}
        </p>
      )}
      <BeforeAfter />
      <HistoryStrip />
    </section>
  );
}

function formProblem(form: GenerateForm): string | null {
  try {
    pairSettingsFor(form);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

function GenerateFields({ disabled }: { disabled: boolean }) {
  const form = useStudio((s) => s.generation.form);
  const updateGeneration = useStudio((s) => s.updateGeneration);
  const set = (patch: Partial<GenerateForm>) => updateGeneration((g) => ({ form: { ...g.form, ...patch }, formError: null }));
  return (
    <div className="generate-fields">
      <label className="wide">
        prompt
        <textarea rows={2} value={form.prompt} onChange={(e) => set({ prompt: e.target.value })} data-testid="prompt" spellCheck={false} />
      </label>
      <label className="wide">
        negative prompt
        <textarea rows={1} value={form.negativePrompt} onChange={(e) => set({ negativePrompt: e.target.value })} data-testid="negative-prompt" placeholder="(none)" spellCheck={false} />
      </label>
      <label>
        seed
        <span className="with-button">
          <input type="number" min={0} max={4294967295} step={1} value={Number.isFinite(form.seed) ? form.seed : ''} onChange={(e) => set({ seed: numberField(e.target.value) })} data-testid="seed" />
          <button type="button" className="secondary icon" onClick={rollSeed} disabled={disabled} title="random seed" aria-label="random seed" data-testid="seed-dice">
            random
          </button>
        </span>
      </label>
      <label>
        steps
        <input type="number" min={1} max={200} step={1} value={Number.isFinite(form.steps) ? form.steps : ''} onChange={(e) => set({ steps: numberField(e.target.value) })} data-testid="steps" />
      </label>
      <label>
        guidance
        <input type="number" min={0} max={50} step={0.5} value={Number.isFinite(form.guidance) ? form.guidance : ''} onChange={(e) => set({ guidance: numberField(e.target.value) })} data-testid="guidance" />
      </label>
      <label>
        scheduler
        <select value={form.scheduler} onChange={(e) => set({ scheduler: e.target.value as SchedulerKind })} data-testid="scheduler">
          {SCHEDULER_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {SCHEDULER_LABELS[kind]}
            </option>
          ))}
        </select>
      </label>
      <label>
        size
        <select value={String(form.size)} onChange={(e) => set({ size: (e.target.value === 'native' ? 'native' : Number(e.target.value)) as SizeChoice })} data-testid="size">
          {SIZE_CHOICES.map((size) => (
            <option key={String(size)} value={String(size)}>
              {size === 'native' ? 'native' : `${size} × ${size}`}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

function BeforeAfter() {
  const pair = useStudio((s) => shownPair(s.generation));
  const editId = useStudio((s) => activeEditId(s.edit.active));
  const original = pair?.original.image?.rgba;
  const edited = pair?.edited.image?.rgba;
  const difference = original && edited && original.length === edited.length ? compareRgba(original, edited) : null;
  return (
    <figure className="before-after" data-testid="pair" data-pair-id={pair?.id ?? ''}>
      <ImageFigure pair={pair} variant="original" caption={null} />
      <ImageFigure pair={pair} variant="edited" caption={<ErasedCaption pair={pair} currentEditId={editId} difference={difference ? describeDifference(difference) : null} identical={difference?.identical ?? null} />} />
      {pair && (
        <figcaption className="pair-caption" data-testid="pair-caption">
          seed {pair.settings.seed} · {pair.settings.steps} steps · {SCHEDULER_LABELS[pair.settings.scheduler]} · guidance {pair.settings.guidance}
          {pair.original.image && ` · ${pair.original.image.width}×${pair.original.image.height}`}
        </figcaption>
      )}
    </figure>
  );
}

function ErasedCaption({ pair, currentEditId, difference, identical }: { pair: ImagePair | null; currentEditId: string | null; difference: string | null; identical: boolean | null }) {
  const image = pair?.edited.image;
  if (!pair || !image) return currentEditId === null ? <span className="hint">no edit active: the erased side will equal the original</span> : null;
  const stale = image.editId !== currentEditId && pair.edited.state === 'done';
  return (
    <span className="erased-caption">
      <span data-testid="edited-edit">{image.editId === null ? 'no edit active: this is the original model' : `edit ${image.editId.slice(0, 8)}`}</span>
      {difference && (
        <span className={`compare ${identical ? 'identical' : 'differs'}`} data-testid="image-compare" data-identical={String(identical)}>
          {difference}
        </span>
      )}
      {stale && <span className="hint">made with an earlier edit</span>}
    </span>
  );
}

const VARIANT_LABEL: Record<Variant, string> = { original: 'original', edited: 'erased' };

function ImageFigure({ pair, variant, caption }: { pair: ImagePair | null; variant: Variant; caption: ReactNode }) {
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const slot: ImageSlot | null = pair ? pair[variant] : null;
  const image = slot?.image ?? null;
  const state = slot ? (slot.state === 'queued' ? 'running' : slot.state) : 'idle';
  const testId = variant === 'original' ? 'image-original' : 'image-edited';
  const download = () => {
    canvas.current?.toBlob((blob) => {
      if (blob && pair) saveBlob(blob, `lethe-${VARIANT_LABEL[variant]}-${fileSafe(pair.settings.prompt)}-seed${pair.settings.seed}.png`);
    }, 'image/png');
  };
  return (
    <div className={`image-figure ${variant}`}>
      <div className="image-head">
        <span className="image-label">{VARIANT_LABEL[variant]}</span>
        {pair && <span className="numbers">seed {pair.settings.seed}</span>}
        <button type="button" className="secondary small" onClick={download} disabled={!image} data-testid={`download-${variant}`}>
          download PNG
        </button>
      </div>
      <div className="canvas-frame" data-state={state}>
        <ImageCanvas ref={canvas} image={image} testId={testId} className="pixelated" label={`${VARIANT_LABEL[variant]} image`} data={{ state, job: slot?.jobId ?? '', 'edit-id': image?.editId ?? '' }} />
        {slot?.state === 'cancelled' && <span className="overlay">cancelled</span>}
      </div>
      <JobProgress slot={slot} variant={variant} />
      <EngineErrorBox error={slot?.state === 'error' ? slot.error : null} testId={`error-${variant}`} />
      <div className="image-caption">{caption}</div>
    </div>
  );
}

const PHASE_LABEL = { encode: 'encoding the prompt', denoise: 'denoising', decode: 'decoding' } as const;

function JobProgress({ slot, variant }: { slot: ImageSlot | null; variant: Variant }) {
  const progress = slot?.progress ?? null;
  const step = progress?.step ?? 0;
  const steps = progress?.steps ?? 0;
  const label = !slot || slot.state === 'idle' ? '' : slot.state === 'queued' ? 'waiting for the original' : progress ? `${PHASE_LABEL[progress.phase]} ${progress.phase === 'denoise' ? `${step}/${steps}` : ''}` : 'starting';
  const done = slot?.state === 'done';
  return (
    <div className="job-progress">
      <progress
        value={done ? 1 : step}
        max={done ? 1 : Math.max(steps, 1)}
        data-testid={`progress-${variant}`}
        data-step={step}
        data-steps={steps}
        data-phase={progress?.phase ?? ''}
        data-state={slot?.state ?? 'idle'}
      />
      <span className="numbers">
        {slot?.state === 'done' && slot.image ? `${(slot.image.ms / 1000).toFixed(1)} s` : slot?.state === 'cancelled' ? `cancelled at ${step}/${steps}` : label}
        {slot?.state === 'running' && steps > 0 && ` (${Math.floor(percent(step, steps))}%)`}
      </span>
    </div>
  );
}

function HistoryStrip() {
  const pairs = useStudio((s) => s.generation.pairs);
  const shownId = useStudio((s) => s.generation.shownPairId);
  return (
    <div className="history" data-testid="history" data-count={pairs.length}>
      {pairs.length === 0 ? (
        <span className="hint">Past pairs appear here; click one to show it again.</span>
      ) : (
        [...pairs].reverse().map((pair) => (
          <button
            type="button"
            key={pair.id}
            className={`history-item${pair.id === shownId ? ' shown' : ''}`}
            onClick={() => showPair(pair.id)}
            data-testid="history-item"
            data-pair-id={pair.id}
            data-shown={String(pair.id === shownId)}
            title={`${pair.settings.prompt} · seed ${pair.settings.seed}`}
          >
            <ImageCanvas image={pair.original.image} className="pixelated thumb" label="original thumbnail" />
            <ImageCanvas image={pair.edited.image} className="pixelated thumb" label="erased thumbnail" />
            <span className="history-seed">{pair.settings.seed}</span>
          </button>
        ))
      )}
    </div>
  );
}
