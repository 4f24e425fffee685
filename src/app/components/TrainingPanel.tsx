/**
 * Fine-tuning in the studio: objective, steps, learning rate, rank, z_t steps and how often to
 * save; a live loss chart (one line per loss term: erase, neighbor, beyond, coref, retain),
 * steps/s and ETA, Pause / Resume / Cancel, and the "after" image refreshed from the LoRA so far
 * every K steps with the generate form's prompt and seed. The engine worker trains and saves a
 * checkpoint to browser storage every K steps; the last run's recipe is remembered, so after a
 * reload or a crash the panel offers to resume it. A finished run becomes the current edit as its
 * exact LoRA file (training-run.ts), which "Download LoRA" saves.
 */
import * as Comlink from 'comlink';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { GeneratedImage, SavedTraining, TrainingPreview, TrainProgressEvent, TrainSummary } from '../../engine/api.ts';
import { FINE_TUNE_OBJECTIVES } from '../../erasure/fine-tune/fine-tune-options.ts';
import { LOSS_GROUPS, type LossGroup } from '../../erasure/fine-tune/loss-terms.ts';
import { saveBlob } from '../downloads.ts';
import { engineClient } from '../engine-client.ts';
import { pairSettingsFor } from '../generate-form.ts';
import { useStudio } from '../store.ts';
import { adoptTrainedLora, DEFAULT_TRAINING_FORM, lastTrainingRun, rememberTrainingRun, trainingFormOf, trainingPackOf, trainingRecipeFor, type TrainedFile, type TrainingForm } from '../training-run.ts';
import { LineChart, type ChartSeries } from './charts/index.ts';
import { useEngineReady } from './common.tsx';
import { ImageCanvas } from './ImageCanvas.tsx';

type RunState =
  | { phase: 'idle' }
  | { phase: 'running' | 'paused'; jobId: string; objective: string }
  | { phase: 'done'; summary: TrainSummary; file: TrainedFile | null; adoptError: string | null }
  | { phase: 'failed'; message: string };

interface LossPoint {
  step: number;
  loss: number;
  groups: Partial<Record<LossGroup, number>>;
}

const OBJECTIVE_NAMES: Record<string, string> = { realera: 'RealEra noise alignment', 'esd-x': 'ESD-x', crce: 'CRCE' };

export function TrainingPanel() {
  const ready = useEngineReady();
  const active = useStudio((s) => s.edit.active);
  const pack = useStudio((s) => s.model.loaded);
  const generation = useStudio((s) => s.generation.form);
  const editRecipe = active?.kind === 'closed-form' ? active.summary.recipe : null;
  const [form, setForm] = useState<TrainingForm>(DEFAULT_TRAINING_FORM);
  const [run, setRun] = useState<RunState>({ phase: 'idle' });
  const [points, setPoints] = useState<LossPoint[]>([]);
  const [rate, setRate] = useState<{ stepsPerSecond: number; etaSeconds: number; step: number; steps: number } | null>(null);
  const [preview, setPreview] = useState<(TrainingPreview & { objective: string }) | null>(null);
  const [saved, setSaved] = useState<SavedTraining | null>(null);
  const jobCounter = useRef(0);

  const made = useMemo(() => (editRecipe && pack ? trainingRecipeFor(editRecipe, form, pack.latentSize) : null), [editRecipe, form, pack]);
  const recipe = made && 'recipe' in made ? made.recipe : null;
  const busy = run.phase === 'running' || run.phase === 'paused';

  // The last run started here, if its checkpoint is unfinished and belongs to the loaded pack: offer to resume it.
  useEffect(() => {
    let current = true;
    setSaved(null);
    const last = lastTrainingRun();
    if (!ready || !pack || !last || busy) return;
    engineClient()
      .savedTraining(last)
      .then((found) => current && setSaved(found && found.step < found.steps && trainingPackOf(found.recipe) === pack.id ? found : null))
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [ready, pack, busy]);

  const start = async (runRecipe: string, every: number, resumeFrom: SavedTraining | null) => {
    const jobId = `train-${++jobCounter.current}`;
    const objective = trainingFormOf(runRecipe, String(every))?.objective ?? 'esd-x';
    let previewSettings;
    try {
      const { width: _w, height: _h, ...settings } = pairSettingsFor(generation);
      previewSettings = { every, ...settings };
    } catch {
      previewSettings = undefined; // an invalid generate form: train without the preview (the form says why)
    }
    rememberTrainingRun(runRecipe);
    setRun({ phase: 'running', jobId, objective });
    setPoints(resumeFrom ? resumeFrom.losses : []);
    setRate(null);
    setPreview(null);
    const onProgress = (event: TrainProgressEvent) => {
      setPoints((previous) => [...previous, { step: event.step, loss: event.loss, groups: event.groups }]);
      setRate({ stepsPerSecond: event.stepsPerSecond, etaSeconds: event.etaSeconds, step: event.step, steps: event.steps });
      if (event.preview) setPreview({ ...event.preview, objective });
    };
    let summary: TrainSummary;
    try {
      summary = await engineClient().train({ jobId, recipe: runRecipe, resume: resumeFrom !== null, checkpointEvery: every, preview: previewSettings }, Comlink.proxy(onProgress));
    } catch (error) {
      setRun({ phase: 'failed', message: (error as Error).message ?? String(error) });
      return;
    }
    setRun({ phase: 'done', summary, file: null, adoptError: null });
    try {
      const file = await adoptTrainedLora();
      setRun({ phase: 'done', summary, file, adoptError: null });
    } catch (error) {
      setRun({ phase: 'done', summary, file: null, adoptError: (error as Error).message });
    }
  };
  const resumeSaved = () => {
    if (!saved) return;
    const every = Number(form.every) >= 1 ? Number(form.every) : 10;
    const savedForm = trainingFormOf(saved.recipe, String(every));
    if (savedForm) setForm(savedForm);
    void start(saved.recipe, every, saved);
  };
  const pause = async () => {
    if (run.phase !== 'running') return;
    await engineClient().pauseTraining(run.jobId);
    setRun({ ...run, phase: 'paused' });
  };
  const resume = async () => {
    if (run.phase !== 'paused') return;
    await engineClient().resumeTraining(run.jobId);
    setRun({ ...run, phase: 'running' });
  };
  const cancel = async () => {
    if (run.phase !== 'running' && run.phase !== 'paused') return;
    await engineClient().cancel(run.jobId);
  };

  const groups = LOSS_GROUPS.filter((g) => points.some((p) => p.groups[g] !== undefined));
  const series: ChartSeries[] = [
    { label: 'total', values: points.map((p) => p.loss) },
    ...(groups.length > 1 ? groups.map((g) => ({ label: g, values: points.map((p) => p.groups[g] ?? null) })) : []),
  ];
  const set = (patch: Partial<TrainingForm>) => setForm((f) => ({ ...f, ...patch }));
  const field = (key: Exclude<keyof TrainingForm, 'objective'>, label: string, size: number, title: string) => (
    <label title={title}>
      {label}
      <input type="text" value={form[key]} disabled={busy} size={size} onChange={(e) => set({ [key]: e.target.value })} data-testid={`training-${key}`} />
    </label>
  );
  const previewImage: GeneratedImage | null = preview ? { jobId: `preview-${preview.step}`, variant: 'edited', width: preview.width, height: preview.height, rgba: preview.rgba, seed: preview.seed, ms: 0, editId: null } : null;

  return (
    <section className="panel training-panel" data-testid="training-panel">
      <h2>Fine-tune the erasure</h2>
      {!editRecipe && !saved && <p className="hint">Erase a concept first: training starts from its concept set (RealEra also from its closed-form edit).</p>}
      <div className="inline-fields">
        <label>
          objective
          <select value={form.objective} disabled={busy} onChange={(e) => set({ objective: e.target.value as TrainingForm['objective'] })} data-testid="training-objective">
            {FINE_TUNE_OBJECTIVES.map((o) => (
              <option key={o} value={o}>
                {OBJECTIVE_NAMES[o]}
              </option>
            ))}
          </select>
        </label>
        {field('steps', 'steps', 6, 'Optimizer steps')}
        {field('learningRate', 'learning rate', 8, 'Adam learning rate (the papers use 1e-5)')}
        {field('rank', 'rank', 4, 'Rank of the trained LoRA on each to_k / to_v')}
        {field('latentSteps', 'z_t steps', 4, 'DDIM steps of the schedule z_t is denoised along (ESD, CRCE: 50) and of the anchor image (RealEra); fewer is faster and coarser')}
        {field('every', 'every', 4, 'Save a checkpoint and refresh the after image every this many steps')}
      </div>
      {made && 'error' in made && <p className="form-error" data-testid="training-form-error">{made.error}</p>}
      <div className="button-row">
        {!busy && (
          <button type="button" disabled={!ready || !recipe} onClick={() => made && 'recipe' in made && void start(made.recipe, made.every, null)} data-testid="training-start">
            Train
          </button>
        )}
        {!busy && saved && (
          <button type="button" disabled={!ready} onClick={resumeSaved} data-testid="training-resume-saved">
            Resume saved run ({OBJECTIVE_NAMES[trainingFormOf(saved.recipe, '')?.objective ?? ''] ?? 'training'}, step {saved.step} of {saved.steps})
          </button>
        )}
        {run.phase === 'running' && (
          <button type="button" onClick={() => void pause()} data-testid="training-pause">
            Pause
          </button>
        )}
        {run.phase === 'paused' && (
          <button type="button" onClick={() => void resume()} data-testid="training-resume">
            Resume
          </button>
        )}
        {busy && (
          <button type="button" onClick={() => void cancel()} data-testid="training-cancel">
            Cancel
          </button>
        )}
      </div>
      {rate && (
        <p className="training-rate" data-testid="training-rate" data-step={rate.step}>
          step {rate.step} / {rate.steps} · {rate.stepsPerSecond.toFixed(2)} steps/s · ETA {formatSeconds(rate.etaSeconds)}
          {run.phase === 'paused' ? ' · paused' : ''}
        </p>
      )}
      <div className="training-live">
        {points.length > 0 && <LineChart x={points.map((p) => p.step)} series={series} xLabel="step" yLabel="loss" logY testId="training-loss-chart" />}
        {previewImage && preview && (
          <figure className="training-preview" data-testid="training-preview" data-step={preview.step}>
            <ImageCanvas image={previewImage} label={`after, training step ${preview.step}`} />
            <figcaption>
              after · {OBJECTIVE_NAMES[preview.objective] ?? preview.objective} LoRA at step {preview.step} · seed {preview.seed}
            </figcaption>
          </figure>
        )}
      </div>
      {run.phase === 'done' && (
        <div data-testid="training-done">
          <p>
            Trained {run.summary.steps} steps{run.summary.resumedAt > 0 ? ` (resumed at ${run.summary.resumedAt})` : ''}
            {run.file ? `: the LoRA (rank ${run.summary.rank}) is now the current edit, as ${run.file.fileName}.` : run.adoptError ? '.' : '; applying its LoRA…'}
          </p>
          {run.adoptError && <p className="form-error">{run.adoptError}</p>}
          {run.file && (
            <button type="button" onClick={() => run.file && saveBlob(new Blob([run.file.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), run.file.fileName)} data-testid="training-download">
              Download LoRA
            </button>
          )}
        </div>
      )}
      {run.phase === 'failed' && (
        <p className="form-error" data-testid="training-error">
          {run.message}
        </p>
      )}
    </section>
  );
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  return `${(seconds / 60).toFixed(1)} min`;
}
