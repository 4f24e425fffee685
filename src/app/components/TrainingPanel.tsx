/**
 * Fine-tuning in the studio: objective, steps, learning rate and rank for the current closed-form
 * edit's concept set; a live loss chart (one line per loss term: erase, neighbor, beyond, coref,
 * retain), steps/s and ETA, Pause / Resume / Cancel. The engine worker trains and checkpoints to
 * browser storage; when a saved run of the same recipe exists (after a reload or a crash) the
 * panel offers to resume it. When the run finishes, its LoRA is the current edit (the LoRA panel
 * exports it; new "after" images use it).
 */
import * as Comlink from 'comlink';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { SavedTraining, TrainProgressEvent, TrainSummary } from '../../engine/api.ts';
import { FINE_TUNE_OBJECTIVES, fineTuneDefaults, type FineTuneObjective } from '../../erasure/fine-tune/fine-tune-options.ts';
import { LOSS_GROUPS, type LossGroup } from '../../erasure/fine-tune/loss-terms.ts';
import { parseRecipe, serializeRecipe } from '../../erasure/recipe.ts';
import { engineClient } from '../engine-client.ts';
import { useStudio } from '../store.ts';
import { LineChart, type ChartSeries } from './charts/index.ts';
import { useEngineReady } from './common.tsx';

interface TrainingForm {
  objective: FineTuneObjective;
  steps: string;
  learningRate: string;
  rank: string;
}

type RunState = { phase: 'idle' } | { phase: 'running' | 'paused'; jobId: string } | { phase: 'done'; summary: TrainSummary } | { phase: 'failed'; message: string };

interface LossPoint {
  step: number;
  loss: number;
  groups: Partial<Record<LossGroup, number>>;
}

/** The training recipe: the edit's recipe with a fineTune section from the form, or an error naming the field. */
export function trainingRecipeFor(editRecipe: string, form: TrainingForm, latentSize: number): { recipe: string } | { error: string } {
  const steps = Number(form.steps);
  const learningRate = Number(form.learningRate);
  const rank = Number(form.rank);
  if (!Number.isInteger(steps) || steps < 1) return { error: `steps: expected a whole number >= 1, got "${form.steps}"` };
  if (!(learningRate > 0 && learningRate <= 1)) return { error: `learning rate: expected a number in (0, 1], got "${form.learningRate}"` };
  if (!Number.isInteger(rank) || rank < 1 || rank > 1024) return { error: `rank: expected a whole number in [1, 1024], got "${form.rank}"` };
  try {
    const recipe = parseRecipe(editRecipe, 'edit recipe');
    return { recipe: serializeRecipe({ ...recipe, fineTune: { ...fineTuneDefaults(form.objective, latentSize), steps, learningRate, rank, alpha: rank } }) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

export function TrainingPanel({ latentSize = 64 }: { latentSize?: number }) {
  const ready = useEngineReady();
  const active = useStudio((s) => s.edit.active);
  const editRecipe = active?.kind === 'closed-form' ? active.summary.recipe : null;
  const [form, setForm] = useState<TrainingForm>({ objective: 'esd-x', steps: '200', learningRate: '1e-5', rank: '4' });
  const [run, setRun] = useState<RunState>({ phase: 'idle' });
  const [points, setPoints] = useState<LossPoint[]>([]);
  const [rate, setRate] = useState<{ stepsPerSecond: number; etaSeconds: number; step: number; steps: number } | null>(null);
  const [saved, setSaved] = useState<SavedTraining | null>(null);
  const jobCounter = useRef(0);

  const made = useMemo(() => (editRecipe ? trainingRecipeFor(editRecipe, form, latentSize) : null), [editRecipe, form, latentSize]);
  const recipe = made && 'recipe' in made ? made.recipe : null;

  // A saved run of exactly this recipe (same objective, steps, lr, rank): offer to resume it.
  useEffect(() => {
    let current = true;
    setSaved(null);
    if (!ready || !recipe || run.phase === 'running' || run.phase === 'paused') return;
    engineClient()
      .savedTraining(recipe)
      .then((found) => current && setSaved(found && found.step < found.steps ? found : null))
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [ready, recipe, run.phase]);

  const start = async (resume: boolean) => {
    if (!recipe) return;
    const jobId = `train-${++jobCounter.current}`;
    setRun({ phase: 'running', jobId });
    setPoints(resume && saved ? saved.losses : []);
    setRate(null);
    const onProgress = (event: TrainProgressEvent) => {
      setPoints((previous) => [...previous, { step: event.step, loss: event.loss, groups: event.groups }]);
      setRate({ stepsPerSecond: event.stepsPerSecond, etaSeconds: event.etaSeconds, step: event.step, steps: event.steps });
    };
    try {
      const summary = await engineClient().train({ jobId, recipe, resume, checkpointEvery: 10 }, Comlink.proxy(onProgress));
      setRun({ phase: 'done', summary });
    } catch (error) {
      setRun({ phase: 'failed', message: (error as Error).message ?? String(error) });
    }
  };
  const pause = async () => {
    if (run.phase !== 'running') return;
    await engineClient().pauseTraining(run.jobId);
    setRun({ phase: 'paused', jobId: run.jobId });
  };
  const resume = async () => {
    if (run.phase !== 'paused') return;
    await engineClient().resumeTraining(run.jobId);
    setRun({ phase: 'running', jobId: run.jobId });
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
  const busy = run.phase === 'running' || run.phase === 'paused';
  const set = (patch: Partial<TrainingForm>) => setForm((f) => ({ ...f, ...patch }));

  return (
    <section className="panel training-panel" data-testid="training-panel">
      <h2>Fine-tune the erasure</h2>
      {!editRecipe && <p className="hint">Erase a concept first: training starts from its concept set (RealEra also from its closed-form edit).</p>}
      <div className="inline-fields">
        <label>
          objective
          <select value={form.objective} disabled={busy} onChange={(e) => set({ objective: e.target.value as FineTuneObjective })} data-testid="training-objective">
            {FINE_TUNE_OBJECTIVES.map((o) => (
              <option key={o} value={o}>
                {o === 'realera' ? 'RealEra noise alignment' : o === 'esd-x' ? 'ESD-x' : 'CRCE'}
              </option>
            ))}
          </select>
        </label>
        <label>
          steps
          <input type="text" value={form.steps} disabled={busy} size={6} onChange={(e) => set({ steps: e.target.value })} data-testid="training-steps" />
        </label>
        <label>
          learning rate
          <input type="text" value={form.learningRate} disabled={busy} size={8} onChange={(e) => set({ learningRate: e.target.value })} data-testid="training-lr" />
        </label>
        <label>
          rank
          <input type="text" value={form.rank} disabled={busy} size={4} onChange={(e) => set({ rank: e.target.value })} data-testid="training-rank" />
        </label>
      </div>
      {made && 'error' in made && <p className="form-error" data-testid="training-form-error">{made.error}</p>}
      <div className="buttons">
        {!busy && (
          <button type="button" disabled={!ready || !recipe} onClick={() => void start(false)} data-testid="training-start">
            Train
          </button>
        )}
        {!busy && saved && (
          <button type="button" disabled={!ready} onClick={() => void start(true)} data-testid="training-resume-saved">
            Resume saved run (step {saved.step} of {saved.steps})
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
        <p className="training-rate" data-testid="training-rate">
          step {rate.step} / {rate.steps} · {rate.stepsPerSecond.toFixed(2)} steps/s · ETA {formatSeconds(rate.etaSeconds)}
          {run.phase === 'paused' ? ' · paused' : ''}
        </p>
      )}
      {points.length > 0 && <LineChart x={points.map((p) => p.step)} series={series} xLabel="step" yLabel="loss" logY testId="training-loss-chart" />}
      {run.phase === 'done' && (
        <p data-testid="training-done">
          Trained {run.summary.steps} steps{run.summary.resumedAt > 0 ? ` (resumed at ${run.summary.resumedAt})` : ''}: the LoRA (rank {run.summary.rank}) is now the current edit; export it in the LoRA panel.
        </p>
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
