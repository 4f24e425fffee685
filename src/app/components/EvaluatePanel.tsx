import { useEffect, useMemo, useState } from 'react';
import { create } from 'zustand';
import type { EvaluationImage, EvaluationProgressEvent, EvaluationRequest } from '../../engine/api.ts';
import { parseConceptWorldLabels, type ConceptWorldLabels } from '../../evaluation/judges/concept-world-judge.ts';
import { CLIP_DEFAULT_MODEL, type JudgeRequest } from '../../evaluation/judges/create-judge.ts';
import { composeGrid, type GridCell } from '../../evaluation/image-grid.ts';
import { cifar10Preset, classesOfPrompts, parseClassList, parseConceptWorld, parsePromptFile, type ConceptWorld } from '../../evaluation/presets.ts';
import { classesForConcepts, planPrompts, seedList, type EvaluationClass, type EvaluationProtocol, type PlannedPrompt } from '../../evaluation/protocol.ts';
import { reportCsv, serializeReport, type EvaluationReport } from '../../evaluation/report.ts';
import { hasOriginal, mergeReports } from '../../evaluation/session.ts';
import { formatAccuracy } from '../../evaluation/summary-table.ts';
import { encodePng } from '../../pipeline/image/index.ts';
import { saveBlob } from '../downloads.ts';
import { Comlink, engineClient } from '../engine-client.ts';
import { describeEngineError, type EngineErrorView } from '../engine-error-advice.ts';
import { useStudio } from '../store.ts';
import { activeEditId } from '../studio-state.ts';
import { BarChart } from './charts/BarChart.tsx';
import { EngineErrorBox, FileButton, NotReadyHint, useEngineReady } from './common.tsx';
import { ImageCanvas } from './ImageCanvas.tsx';
import './EvaluatePanel.css';

/** The concept world's files, served with the studio (public/concept-world). */
const WORLD_URL = `${import.meta.env.BASE_URL}concept-world/world.json`;
const JUDGE_URL = `${import.meta.env.BASE_URL}concept-world/judge.onnx`;
const JUDGE_LABELS_URL = `${import.meta.env.BASE_URL}concept-world/judge.json`;

type ClassSource = 'cifar10' | 'custom';
type JudgeChoice = 'concept-world' | 'clip';
type GridGroup = 'erased' | 'synonyms' | 'kept';

interface EvaluateSettings {
  source: ClassSource;
  /** "class: synonym, synonym" per line (custom source). */
  customClasses: string;
  /** A prompt file's text ("class: prompt" per line), replacing the templates. */
  prompts: { name: string; text: string } | null;
  erased: string;
  seeds: number;
  steps: number;
  /** How many of the preset's templates (the first N). */
  templates: number;
  judge: JudgeChoice;
  clipModel: string;
}

type RunState = { state: 'idle' } | { state: 'running'; jobId: string; progress: EvaluationProgressEvent | null } | { state: 'failed'; error: EngineErrorView } | { state: 'cancelled' };

/** Grid images by model ('original' or an edit id), prompt text and seed. */
type ImageKey = string;

interface EvaluateState {
  settings: EvaluateSettings;
  run: RunState;
  /** Every comparable run so far (several edits side by side, one original). */
  report: EvaluationReport | null;
  images: Map<ImageKey, EvaluationImage>;
  gridGroup: GridGroup;
  update(patch: Partial<Omit<EvaluateState, 'update'>>): void;
  updateSettings(patch: Partial<EvaluateSettings>): void;
}

/** The panel's own state: results survive the panel being hidden or moved by the layout. */
const useEvaluate = create<EvaluateState>((set) => ({
  settings: { source: 'cifar10', customClasses: 'cat: kitty, feline\ndog: puppy\nship', prompts: null, erased: '', seeds: 2, steps: 20, templates: 3, judge: 'concept-world', clipModel: CLIP_DEFAULT_MODEL },
  run: { state: 'idle' },
  report: null,
  images: new Map(),
  gridGroup: 'erased',
  update: (patch) => set(patch),
  updateSettings: (patch) => set((s) => ({ settings: { ...s.settings, ...patch } })),
}));

const modelKey = (edit: EvaluationReport['runs'][number]['edit']) => (edit.kind === 'original' ? 'original' : edit.id);
const imageKey = (model: string, prompt: string, seed: number): ImageKey => `${model}\u0000${prompt}\u0000${seed}`;

let jobCounter = 0;

/** The concept world (fetched once); null until loaded, an Error when it cannot be. */
function useConceptWorld(): ConceptWorld | Error | null {
  const [world, setWorld] = useState<ConceptWorld | Error | null>(null);
  useEffect(() => {
    let live = true;
    fetch(WORLD_URL)
      .then(async (response) => {
        if (!response.ok) throw new Error(`${WORLD_URL}: HTTP ${response.status}`);
        return parseConceptWorld(await response.json(), 'concept-world/world.json');
      })
      .then((w) => live && setWorld(w))
      .catch((error: Error) => live && setWorld(error));
    return () => {
      live = false;
    };
  }, []);
  return world;
}

/** Classes and templates of the current settings, or why they cannot be used. */
function protocolInputs(settings: EvaluateSettings, world: ConceptWorld | null): { classes: EvaluationClass[]; templates: string[]; prompts: PlannedPrompt[] | null } {
  const preset = world ? cifar10Preset(world) : null;
  const prompts = settings.prompts ? parsePromptFile(settings.prompts.text, settings.prompts.name) : null;
  if (settings.source === 'custom') {
    const classes = parseClassList(settings.customClasses, 'class list');
    return { classes, templates: (preset?.templates ?? ['a photo of the {object}']).slice(0, Math.max(1, settings.templates)), prompts };
  }
  if (!preset) throw new Error('The concept world (world.json) is not loaded yet.');
  return { classes: prompts ? classesOfPrompts(prompts) : preset.classes, templates: preset.templates.slice(0, Math.max(1, settings.templates)), prompts };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} (the concept-world judge is not served here; choose the CLIP judge)`);
  return new Uint8Array(await response.arrayBuffer());
}

async function judgeRequest(settings: EvaluateSettings): Promise<JudgeRequest> {
  if (settings.judge === 'clip') return { kind: 'clip', model: settings.clipModel.trim() || CLIP_DEFAULT_MODEL };
  const onnx = await fetchBytes(JUDGE_URL);
  // judge.json names the heads' label order; world.json's objects and styles are the same order.
  let labels: ConceptWorldLabels;
  const response = await fetch(JUDGE_LABELS_URL);
  if (response.ok) labels = parseConceptWorldLabels(await response.json(), 'concept-world/judge.json');
  else labels = parseConceptWorldLabels(await (await fetch(WORLD_URL)).json(), 'concept-world/world.json');
  return { kind: 'concept-world', onnx, labels, file: 'judge.onnx' };
}

/** Runs the protocol for the current edit (and the original, unless the table already has it). */
async function startEvaluation(protocol: EvaluationProtocol): Promise<void> {
  const { settings, report, update } = useEvaluate.getState();
  const edit = useStudio.getState().edit.active;
  const jobId = `evaluate-${++jobCounter}`;
  update({ run: { state: 'running', jobId, progress: null } });
  try {
    const judge = await judgeRequest(settings);
    const pending: EvaluationRequest = { jobId, protocol, judge, runs: [], images: true, thumbnailSide: 128 };
    // The original's images do not depend on the edit: a comparable table already holds them.
    const comparable = report && report.pack.id === useStudio.getState().model.loaded?.id && JSON.stringify(report.protocol) === JSON.stringify(protocol) && report.judge.descriptor.kind === judge.kind;
    if (!comparable || !hasOriginal(report)) pending.runs.push({ kind: 'original' });
    if (edit) pending.runs.push({ kind: 'edited', label: edit.kind === 'closed-form' ? recipeLabel(edit.summary.recipe, edit.summary.id) : `${edit.summary.fileName} x${edit.summary.strength}` });
    if (pending.runs.length === 0) {
      update({ run: { state: 'idle' } });
      return;
    }
    const result = await engineClient().evaluate(
      pending,
      Comlink.proxy((progress: EvaluationProgressEvent) => {
        const run = useEvaluate.getState().run;
        if (run.state === 'running' && run.jobId === jobId) update({ run: { ...run, progress } });
      }),
    );
    const state = useEvaluate.getState();
    const merged = mergeReports(comparable ? state.report : null, result.report);
    const images = new Map(comparable ? state.images : []);
    for (const image of result.images) {
      const run = result.report.runs[image.run];
      images.set(imageKey(modelKey(run.edit), protocol.prompts[image.prompt].text, image.seed), image);
    }
    update({ report: merged, images, run: { state: 'idle' } });
  } catch (error) {
    const run = useEvaluate.getState().run;
    const cancelled = run.state === 'running' && /cancel|abort/i.test((error as Error)?.message ?? '');
    update({ run: cancelled ? { state: 'cancelled' } : { state: 'failed', error: { ...describeEngineError(error, 'generate'), title: 'The evaluation did not finish.' } } });
  }
}

function cancelEvaluation(): void {
  const run = useEvaluate.getState().run;
  if (run.state === 'running') void engineClient().cancel(run.jobId);
}

function formatDuration(ms: number | null): string {
  if (ms === null) return '…';
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s` : `${s} s`;
}

function download(text: string, type: string, name: string): void {
  saveBlob(new Blob([text], { type }), name);
}

/**
 * The Evaluate panel: how well an erasure worked, as the papers measure it. Choose the classes
 * (the CIFAR-10 preset of the concept world, or your own list and prompt file), the erased class,
 * K seeds and steps; the engine draws every prompt at every seed before and after the edit, a
 * judge classifies the images, and the table, chart and image grid show Acc_e, Acc_s, Acc_g, H_o.
 * Evaluating another edit with the same settings adds a row: edits side by side, one original.
 */
export function EvaluatePanel() {
  const ready = useEngineReady();
  const world = useConceptWorld();
  const settings = useEvaluate((s) => s.settings);
  const run = useEvaluate((s) => s.run);
  const report = useEvaluate((s) => s.report);
  const updateSettings = useEvaluate((s) => s.updateSettings);
  const activeEdit = useStudio((s) => s.edit.active);
  const loadedWorld = world instanceof Error ? null : world;

  const inputs = useMemo(() => {
    try {
      return { ok: true as const, ...protocolInputs(settings, loadedWorld) };
    } catch (error) {
      return { ok: false as const, message: (error as Error).message };
    }
  }, [settings, loadedWorld]);

  // The erased class follows the edit's concept when it names one of the classes.
  const editConcepts = activeEdit?.kind === 'closed-form' ? conceptsOfRecipe(activeEdit.summary.recipe) : [];
  const classes = inputs.ok ? inputs.classes : [];
  const suggested = classesForConcepts(classes, editConcepts)[0];
  const erased = classes.some((c) => c.name === settings.erased) ? settings.erased : (suggested ?? classes[0]?.name ?? '');

  let protocol: EvaluationProtocol | null = null;
  let protocolError: string | null = inputs.ok ? null : inputs.message;
  if (inputs.ok && erased) {
    try {
      protocol = {
        classes: inputs.prompts ? classesOfPrompts(inputs.prompts) : inputs.classes,
        erased: [erased],
        prompts: inputs.prompts ?? planPrompts(inputs.classes, [erased], inputs.templates),
        seeds: seedList(settings.seeds),
        sampling: { steps: settings.steps, guidance: 7.5, scheduler: 'ddim', negativePrompt: '' },
      };
    } catch (error) {
      protocolError = (error as Error).message;
    }
  }
  const running = run.state === 'running';
  const images = protocol ? protocol.prompts.length * protocol.seeds.length : 0;
  const maxTemplates = loadedWorld ? cifar10Preset(loadedWorld).templates.length : 1;

  return (
    <section className="panel evaluate-panel" data-testid="evaluate-panel" aria-labelledby="evaluate-title">
      <h2 id="evaluate-title">Evaluate</h2>
      <p className="hint">Is the concept gone (Acc_e ↓), its synonyms too (Acc_g ↓), and everything else intact (Acc_s ↑)? H_o combines the three (↑).</p>
      <NotReadyHint />
      <div className="evaluate-form">
        <label>
          classes
          <select value={settings.source} onChange={(e) => updateSettings({ source: e.target.value as ClassSource })} data-testid="evaluate-source" disabled={running}>
            <option value="cifar10">CIFAR-10 (concept world, evaluation templates)</option>
            <option value="custom">my class list</option>
          </select>
        </label>
        {settings.source === 'custom' && (
          <label className="wide">
            one class per line: <code>class: synonym, synonym</code>
            <textarea rows={4} value={settings.customClasses} onChange={(e) => updateSettings({ customClasses: e.target.value })} data-testid="evaluate-classes" disabled={running} />
          </label>
        )}
        <div className="wide prompt-file">
          <FileButton label="prompt file…" accept=".txt,text/plain" testId="evaluate-prompt-file" disabled={running} onFile={(file) => void file.text().then((text) => updateSettings({ prompts: { name: file.name, text } }))} />
          {settings.prompts ? (
            <>
              <span className="picked">{settings.prompts.name}</span>
              <button type="button" className="secondary" onClick={() => updateSettings({ prompts: null })} disabled={running}>
                use templates
              </button>
            </>
          ) : (
            <span className="hint">lines <code>class: prompt</code> or <code>class/synonym: prompt</code> replace the templates</span>
          )}
        </div>
        <label>
          erased class
          <select value={erased} onChange={(e) => updateSettings({ erased: e.target.value })} data-testid="evaluate-erased" disabled={running || classes.length === 0}>
            {classes.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          seeds (K)
          <input type="number" min={1} max={64} value={settings.seeds} onChange={(e) => updateSettings({ seeds: Math.max(1, Math.min(64, Math.round(Number(e.target.value) || 1))) })} data-testid="evaluate-seeds" disabled={running} />
        </label>
        <label>
          steps
          <input type="number" min={1} max={200} value={settings.steps} onChange={(e) => updateSettings({ steps: Math.max(1, Math.min(200, Math.round(Number(e.target.value) || 1))) })} data-testid="evaluate-steps" disabled={running} />
        </label>
        {!settings.prompts && (
          <label>
            templates
            <input type="number" min={1} max={maxTemplates} value={Math.min(settings.templates, maxTemplates)} onChange={(e) => updateSettings({ templates: Math.max(1, Math.round(Number(e.target.value) || 1)) })} data-testid="evaluate-templates" disabled={running} />
          </label>
        )}
        <label>
          judge
          <select value={settings.judge} onChange={(e) => updateSettings({ judge: e.target.value as JudgeChoice })} data-testid="evaluate-judge" disabled={running}>
            <option value="concept-world">concept-world classifier</option>
            <option value="clip">CLIP zero-shot (hub)</option>
          </select>
        </label>
        {settings.judge === 'clip' && (
          <label>
            CLIP model
            <input type="text" value={settings.clipModel} onChange={(e) => updateSettings({ clipModel: e.target.value })} data-testid="evaluate-clip-model" disabled={running} />
          </label>
        )}
      </div>
      {world instanceof Error && <p className="error">The concept world could not be loaded ({world.message}); use your own class list.</p>}
      {protocolError && (
        <p className="error" data-testid="evaluate-form-error">
          {protocolError}
        </p>
      )}
      <div className="evaluate-actions">
        <button type="button" onClick={() => protocol && void startEvaluation(protocol)} disabled={!ready || running || !protocol} data-testid="evaluate-run">
          Evaluate {activeEdit ? 'original and edit' : 'original'}
        </button>
        {running && (
          <button type="button" className="secondary" onClick={cancelEvaluation} data-testid="evaluate-cancel">
            Cancel
          </button>
        )}
        {protocol && !running && (
          <span className="hint">
            {images} images per model ({protocol.prompts.length} prompts × {protocol.seeds.length} seeds){activeEdit ? '' : '; erase a concept to compare'}
          </span>
        )}
      </div>
      <EvaluateProgress />
      {run.state === 'cancelled' && <p className="hint" data-testid="evaluate-cancelled">Evaluation cancelled.</p>}
      <EngineErrorBox error={run.state === 'failed' ? run.error : null} testId="evaluate-error" onDismiss={() => useEvaluate.getState().update({ run: { state: 'idle' } })} />
      {report && <EvaluateResults report={report} activeEditId={activeEditId(activeEdit)} />}
    </section>
  );
}

/** "UCE cat 1a2b3c4d": the method, what it erases and the edit id, for the table's rows. */
function recipeLabel(recipe: string, id: string): string {
  let method = 'edit';
  try {
    const parsed = JSON.parse(recipe) as { method?: unknown; fineTune?: unknown };
    if (parsed.method === 'uce') method = 'UCE';
    else if (parsed.method === 'realera') method = 'RealEra';
    if (parsed.fineTune) method += ' + fine-tune';
  } catch {
    // A recipe is canonical JSON; the fallback label is only for safety.
  }
  return `${method} ${conceptsOfRecipe(recipe).join(', ')} ${id.slice(0, 8)}`.replace(/\s+/g, ' ');
}

function conceptsOfRecipe(recipe: string): string[] {
  try {
    const parsed = JSON.parse(recipe) as { concepts?: { targets?: { concept?: unknown }[] } };
    return (parsed.concepts?.targets ?? []).map((t) => t.concept).filter((c): c is string => typeof c === 'string');
  } catch {
    return [];
  }
}

function EvaluateProgress() {
  const run = useEvaluate((s) => s.run);
  if (run.state !== 'running') return null;
  const p = run.progress;
  return (
    <div className="evaluate-progress" data-testid="evaluate-progress" data-done={p?.done ?? 0} data-total={p?.total ?? 0}>
      <progress value={p?.done ?? 0} max={p?.total ?? 1} />
      <span className="numbers">
        {p ? `${p.done}/${p.total} images · ${p.run}: “${p.prompt}” seed ${p.seed} · ${formatDuration(p.elapsedMs)} elapsed · ETA ${formatDuration(p.etaMs)}` : 'loading the judge…'}
      </span>
    </div>
  );
}

function EvaluateResults({ report, activeEditId }: { report: EvaluationReport; activeEditId: string | null }) {
  const chartSeries = useMemo(
    () =>
      report.runs.map((run) => ({
        label: `${run.label} (H_o ${formatAccuracy(run.metrics.harmonic.probability)})`,
        values: run.metrics.perClass.map((c) => (Number.isFinite(c.accuracy.probability) ? c.accuracy.probability : null)),
      })),
    [report],
  );
  const categories = useMemo(() => report.protocol.classes.map((c) => (report.protocol.erased.includes(c.name) ? `${c.name} (erased)` : c.name)), [report]);
  const baseName = `lethe-eval-${report.protocol.erased.join('-')}`;
  return (
    <div className="evaluate-results" data-testid="evaluate-results" data-runs={report.runs.length}>
      <table className="evaluate-table" data-testid="evaluate-table">
        <caption>
          Mean judge probability of the prompted class (top-1 rate in parentheses); erased: {report.protocol.erased.join(', ')}; {report.protocol.seeds.length} seeds, {report.protocol.sampling.steps} steps;
          judge: {report.judge.descriptor.kind === 'clip' ? `CLIP ${report.judge.descriptor.model}` : `concept-world ${report.judge.descriptor.sha256.slice(0, 8)}`}.
        </caption>
        <thead>
          <tr>
            <th>model</th>
            <th title="on the erased class's own name (lower is better)">Acc_e ↓</th>
            <th title="on the kept classes (higher is better)">Acc_s ↑</th>
            <th title="on the erased class's synonyms (lower is better)">Acc_g ↓</th>
            <th title="3 / (1/(1-Acc_e) + 1/Acc_s + 1/(1-Acc_g))">H_o ↑</th>
          </tr>
        </thead>
        <tbody>
          {report.runs.map((run) => {
            const m = run.metrics;
            const current = run.edit.kind !== 'original' && run.edit.id === activeEditId;
            return (
              <tr key={modelKey(run.edit)} data-testid="evaluate-row" data-model={modelKey(run.edit)} className={current ? 'current' : undefined}>
                <td>{run.label}</td>
                {[m.efficacy, m.specificity, m.generality].map((a, i) => (
                  <td key={i} data-value={a.probability}>
                    {formatAccuracy(a.probability)} <span className="top1">({formatAccuracy(a.top1)})</span>
                  </td>
                ))}
                <td data-value={m.harmonic.probability}>
                  <strong>{formatAccuracy(m.harmonic.probability)}</strong> <span className="top1">({formatAccuracy(m.harmonic.top1)})</span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <BarChart categories={categories} series={chartSeries} yRange={[0, 1]} yLabel="accuracy" title="Accuracy per class, before vs after" testId="evaluate-chart" caption="Bars: mean judge probability of each class on its own prompts. The erased class should drop; the others should stay." />
      <div className="evaluate-exports">
        <button type="button" className="secondary" onClick={() => download(serializeReport(report), 'application/json', `${baseName}.json`)} data-testid="evaluate-export-json">
          report JSON
        </button>
        <button type="button" className="secondary" onClick={() => download(reportCsv(report), 'text/csv', `${baseName}.csv`)} data-testid="evaluate-export-csv">
          table CSV
        </button>
        <GridPngButton report={report} baseName={baseName} />
      </div>
      <EvaluateGrid report={report} />
    </div>
  );
}

/** The prompts the grid shows for a group (at most 6, so the grid stays readable). */
function gridPrompts(protocol: EvaluationProtocol, group: GridGroup): PlannedPrompt[] {
  const erased = (p: PlannedPrompt) => protocol.erased.includes(p.className);
  const filter = group === 'erased' ? (p: PlannedPrompt) => erased(p) && p.kind === 'name' : group === 'synonyms' ? (p: PlannedPrompt) => erased(p) && p.kind === 'synonym' : (p: PlannedPrompt) => !erased(p) && p.kind === 'name';
  return protocol.prompts.filter(filter).slice(0, 6);
}

function useGridCells(report: EvaluationReport): { rows: { prompt: PlannedPrompt; run: EvaluationReport['runs'][number] }[]; seeds: number[]; lookup(model: string, prompt: string, seed: number): EvaluationImage | undefined } {
  const group = useEvaluate((s) => s.gridGroup);
  const images = useEvaluate((s) => s.images);
  const prompts = gridPrompts(report.protocol, group);
  const rows = prompts.flatMap((prompt) => report.runs.map((run) => ({ prompt, run })));
  return { rows, seeds: report.protocol.seeds, lookup: (model, prompt, seed) => images.get(imageKey(model, prompt, seed)) };
}

function GridPngButton({ report, baseName }: { report: EvaluationReport; baseName: string }) {
  const { rows, seeds, lookup } = useGridCells(report);
  const save = async () => {
    const cells: GridCell[] = [];
    rows.forEach(({ prompt, run }, row) =>
      seeds.forEach((seed, column) => {
        const image = lookup(modelKey(run.edit), prompt.text, seed);
        if (image) cells.push({ row, column, image });
      }),
    );
    if (cells.length === 0) return;
    const grid = composeGrid(cells, rows.length, seeds.length);
    const png = await encodePng({ width: grid.width, height: grid.height, rgba: new Uint8ClampedArray(grid.rgba) });
    saveBlob(new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }), `${baseName}-grid.png`);
  };
  return (
    <button type="button" className="secondary" onClick={() => void save()} data-testid="evaluate-export-png" disabled={rows.length === 0}>
      grid PNG
    </button>
  );
}

/** Prompts x seeds, each prompt's row from every model (before above after), with the judge's probability. */
function EvaluateGrid({ report }: { report: EvaluationReport }) {
  const group = useEvaluate((s) => s.gridGroup);
  const update = useEvaluate((s) => s.update);
  const { rows, seeds, lookup } = useGridCells(report);
  return (
    <div className="evaluate-grid-block">
      <div className="grid-controls">
        <label>
          images of
          <select value={group} onChange={(e) => update({ gridGroup: e.target.value as GridGroup })} data-testid="evaluate-grid-group">
            <option value="erased">the erased class</option>
            <option value="synonyms">its synonyms</option>
            <option value="kept">kept classes</option>
          </select>
        </label>
      </div>
      <table className="evaluate-grid" data-testid="evaluate-grid">
        <thead>
          <tr>
            <th>prompt / model</th>
            {seeds.map((seed) => (
              <th key={seed}>seed {seed}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map(({ prompt, run }, index) => (
            <tr key={`${prompt.text}|${modelKey(run.edit)}`} className={index % report.runs.length === 0 ? 'first-of-prompt' : undefined}>
              <th scope="row">
                <span className="grid-prompt">{prompt.text}</span>
                <span className="grid-model">{run.label}</span>
              </th>
              {seeds.map((seed) => {
                const image = lookup(modelKey(run.edit), prompt.text, seed);
                return (
                  <td key={seed}>
                    {image ? (
                      <figure>
                        <ImageCanvas image={{ jobId: '', variant: run.edit.kind === 'original' ? 'original' : 'edited', width: image.width, height: image.height, rgba: image.rgba, seed, ms: 0, editId: null }} testId="evaluate-grid-image" label={`${prompt.text}, seed ${seed}, ${run.label}`} />
                        <figcaption>p({prompt.className}) {formatAccuracy(image.probability)}</figcaption>
                      </figure>
                    ) : (
                      <span className="hint">–</span>
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
