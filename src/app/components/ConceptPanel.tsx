import { CONCEPT_KINDS, type ConceptKind } from '../../erasure/concept-sets.ts';
import { ERASURE_METHODS, type ErasureMethod } from '../../erasure/recipe.ts';
import { TOKEN_SELECTION_MODES, type TokenSelectionMode } from '../../erasure/token-selection.ts';
import { emptyTarget, withCifar10Preserve, withMethod, type ChipValue, type ConceptForm, type RealEraForm, type TargetForm } from '../concept-form.ts';
import { changeConceptForm, clearEdit, downloadRecipe, eraseNow, measureEdit, openRecipe, redo, undo } from '../edit-actions.ts';
import { canRedo, canUndo } from '../edit-stack.ts';
import { numberField } from '../generate-form.ts';
import { useStudio } from '../store.ts';
import { EngineErrorBox, FileButton, NotReadyHint, Slider, useEngineReady } from './common.tsx';
import { ChipsEditor } from './ChipsEditor.tsx';
import { ConceptSuggestions } from './ConceptSuggestions.tsx';

const METHOD_LABEL: Record<ErasureMethod, string> = { uce: 'UCE (closed form)', realera: 'RealEra (neighbors + closed form)' };
const TOKEN_LABEL: Record<TokenSelectionMode, string> = { last: 'last subject token', subject: 'subject and following tokens', all: 'all tokens' };

export function ConceptPanel() {
  const ready = useEngineReady();
  const busy = useStudio((s) => s.edit.busy);
  const error = useStudio((s) => s.concept.error);
  const updateConcept = useStudio((s) => s.updateConcept);
  return (
    <section className="panel concept-panel" data-testid="concept-panel" aria-busy={busy}>
      <h2>Concept to erase</h2>
      <ConceptFields />
      <ConceptSuggestions />
      <ErasureSettings />
      <div className="button-row">
        <button type="button" onClick={() => void eraseNow()} disabled={!ready || busy} data-testid="erase-button">
          {busy ? 'Working…' : 'Erase'}
        </button>
        <EditHistoryButtons ready={ready} />
      </div>
      <NotReadyHint />
      <EngineErrorBox error={error} testId="concept-error" onDismiss={() => updateConcept({ error: null })} />
      <EditSummaryView />
      <MeasureSection ready={ready} />
    </section>
  );
}

function useFormSetter() {
  return (patch: Partial<ConceptForm> | ((form: ConceptForm) => ConceptForm), recompute = false) => changeConceptForm(patch, recompute);
}

function ConceptFields() {
  const form = useStudio((s) => s.concept.form);
  const drafts = useStudio((s) => s.concept.drafts);
  const updateConcept = useStudio((s) => s.updateConcept);
  const set = useFormSetter();
  const setDraft = (key: string) => (text: string) => updateConcept((c) => ({ drafts: { ...c.drafts, [key]: text } }));
  const setTarget = (i: number, patch: Partial<TargetForm>, recompute = false) =>
    set((f) => ({ ...f, targets: f.targets.map((t, j) => (j === i ? { ...t, ...patch } : t)) }), recompute);
  const suffix = (i: number) => (i === 0 ? '' : `-${i}`);
  return (
    <div className="concept-fields">
      <div className="inline-fields">
        <label>
          kind
          <select value={form.kind} onChange={(e) => set({ kind: e.target.value as ConceptKind })} data-testid="concept-kind">
            {CONCEPT_KINDS.map((kind) => (
              <option key={kind} value={kind}>
                {kind}
              </option>
            ))}
          </select>
        </label>
        <label>
          method
          <select value={form.method} onChange={(e) => set((f) => withMethod(f, e.target.value as ErasureMethod))} data-testid="method">
            {ERASURE_METHODS.map((method) => (
              <option key={method} value={method}>
                {METHOD_LABEL[method]}
              </option>
            ))}
          </select>
        </label>
      </div>
      {form.targets.map((target, i) => (
        <fieldset key={i} className="target" data-testid={`target${suffix(i)}`}>
          <legend>target {form.targets.length > 1 ? i + 1 : ''}</legend>
          <div className="target-row">
            <label>
              concept
              <input type="text" value={target.concept} onChange={(e) => setTarget(i, { concept: e.target.value })} placeholder="e.g. cat, Van Gogh" spellCheck={false} data-testid={`concept${suffix(i)}`} />
            </label>
            <label className="weight">
              weight
              <input type="number" min={0.05} step={0.05} value={Number.isFinite(target.weight) ? target.weight : ''} onChange={(e) => setTarget(i, { weight: numberField(e.target.value) }, true)} data-testid={`concept-weight${suffix(i)}`} />
            </label>
            <label>
              anchor
              <input type="text" value={target.anchor} onChange={(e) => setTarget(i, { anchor: e.target.value })} placeholder='"" (the empty prompt)' spellCheck={false} data-testid={`anchor${suffix(i)}`} />
            </label>
            {form.targets.length > 1 && (
              <button type="button" className="secondary small" onClick={() => set((f) => ({ ...f, targets: f.targets.filter((_, j) => j !== i) }))} aria-label={`remove target ${i + 1}`}>
                remove
              </button>
            )}
          </div>
          <ChipsEditor
            label="corefs (erased with it)"
            testId={`coref-input${suffix(i)}`}
            chips={target.corefs}
            draft={drafts[`coref-${i}`] ?? ''}
            onDraft={setDraft(`coref-${i}`)}
            onChange={(corefs: ChipValue[], weightOnly) => setTarget(i, { corefs }, weightOnly)}
            placeholder="e.g. kitten, tabby"
          />
        </fieldset>
      ))}
      <button type="button" className="secondary small add-target" onClick={() => set((f) => ({ ...f, targets: [...f.targets, emptyTarget()] }))} data-testid="add-target">
        + another target
      </button>
      <ChipsEditor
        label="retain (related, kept)"
        testId="retain-input"
        chips={form.retains}
        draft={drafts.retain ?? ''}
        onDraft={setDraft('retain')}
        onChange={(retains, weightOnly) => set({ retains }, weightOnly)}
        placeholder="e.g. tiger, lion"
      />
      <div className="preserve-row">
        <ChipsEditor
          label="preserve"
          testId="preserve-input"
          chips={form.preserve}
          draft={drafts.preserve ?? ''}
          onDraft={setDraft('preserve')}
          onChange={(preserve, weightOnly) => set({ preserve }, weightOnly)}
          placeholder="concepts to keep intact"
        />
        <button type="button" className="secondary small" onClick={() => set(withCifar10Preserve)} data-testid="preset-cifar10" title="the ten CIFAR-10 classes, minus the concepts erased or retained">
          CIFAR-10 classes
        </button>
      </div>
    </div>
  );
}

function ErasureSettings() {
  const form = useStudio((s) => s.concept.form);
  const set = useFormSetter();
  const setRealEra = (patch: Partial<RealEraForm>) => set((f) => ({ ...f, realera: { ...f.realera, ...patch } }), true);
  return (
    <div className="erasure-settings">
      <label className="inline">
        token mode
        <select value={form.tokens} onChange={(e) => set({ tokens: e.target.value as TokenSelectionMode }, true)} data-testid="token-mode">
          {TOKEN_SELECTION_MODES.map((mode) => (
            <option key={mode} value={mode}>
              {TOKEN_LABEL[mode]}
            </option>
          ))}
        </select>
      </label>
      <Slider label="lambda" testId="lambda" value={form.lambda} min={0.01} max={5} step={0.01} onChange={(lambda) => set({ lambda }, true)} hint="ridge on |W' - W|: larger keeps the model closer to the original" />
      <Slider label="erase scale" testId="erase-scale" value={form.eraseScale} min={0} max={5} step={0.05} onChange={(eraseScale) => set({ eraseScale }, true)} />
      <Slider label="preserve scale" testId="preserve-scale" value={form.preserveScale} min={0} max={5} step={0.05} onChange={(preserveScale) => set({ preserveScale }, true)} />
      {form.method === 'realera' && (
        <fieldset className="realera" data-testid="realera-settings">
          <legend>RealEra neighbor mining</legend>
          <Slider label="S1 (upper cosine)" testId="realera-s1" value={form.realera.s1} min={-1} max={1} step={0.01} onChange={(s1) => setRealEra({ s1 })} />
          <Slider label="S2 (lower cosine)" testId="realera-s2" value={form.realera.s2} min={-1} max={1} step={0.01} onChange={(s2) => setRealEra({ s2 })} />
          <Slider label="M (neighbors)" testId="realera-m" value={form.realera.m} min={0} max={20} step={1} onChange={(m) => setRealEra({ m })} />
          <Slider label="N (beyond samples)" testId="realera-n" value={form.realera.n} min={0} max={20} step={1} onChange={(n) => setRealEra({ n })} />
          <Slider label="D1 (neighbor radius)" testId="realera-d1" value={form.realera.d1} min={10} max={2000} step={10} onChange={(d1) => setRealEra({ d1 })} />
          <Slider label="D2 (beyond radius)" testId="realera-d2" value={form.realera.d2} min={20} max={4000} step={10} onChange={(d2) => setRealEra({ d2 })} />
          <label className="inline">
            seed
            <input type="number" min={0} step={1} value={Number.isFinite(form.realera.seed) ? form.realera.seed : ''} onChange={(e) => setRealEra({ seed: numberField(e.target.value) })} data-testid="realera-seed" />
          </label>
        </fieldset>
      )}
    </div>
  );
}

function EditHistoryButtons({ ready }: { ready: boolean }) {
  const stack = useStudio((s) => s.edit.stack);
  const active = useStudio((s) => s.edit.active);
  const busy = useStudio((s) => s.edit.busy);
  return (
    <>
      <button type="button" className="secondary" onClick={() => void undo()} disabled={!ready || busy || !canUndo(stack)} data-testid="undo" title="Ctrl+Z">
        Undo
      </button>
      <button type="button" className="secondary" onClick={() => void redo()} disabled={!ready || busy || !canRedo(stack)} data-testid="redo" title="Ctrl+Shift+Z">
        Redo
      </button>
      <button type="button" className="secondary" onClick={() => void clearEdit()} disabled={!ready || busy || active === null} data-testid="clear-edit">
        Clear edit
      </button>
      <button type="button" className="secondary" onClick={downloadRecipe} disabled={active?.kind !== 'closed-form'} data-testid="recipe-download">
        Download recipe
      </button>
      <FileButton label="Open recipe" accept=".json,application/json" testId="recipe-open" disabled={!ready || busy} onFile={(file) => void openRecipe(file)} />
    </>
  );
}

function EditSummaryView() {
  const active = useStudio((s) => s.edit.active);
  const depth = useStudio((s) => s.edit.stack.undo.length);
  if (!active)
    return (
      <p className="edit-summary hint" data-testid="edit-summary" data-edit-id="" data-kind="none">
        No edit: the erased image is the original model.
      </p>
    );
  if (active.kind === 'lora') {
    const s = active.summary;
    return (
      <div className="edit-summary" data-testid="edit-summary" data-edit-id={s.editId} data-kind="lora">
        <h3>Current edit: LoRA file</h3>
        <p>
          {s.fileName} at strength {s.strength} · {s.applied.length} projections · edit {s.editId.slice(0, 12)}
        </p>
      </div>
    );
  }
  const s = active.summary;
  return (
    <div className="edit-summary" data-testid="edit-summary" data-edit-id={s.id} data-kind="closed-form" data-rank={s.rank}>
      <h3>Current edit</h3>
      <dl>
        <dt>edit id</dt>
        <dd title={s.id}>{s.id.slice(0, 16)}…</dd>
        <dt>vectors</dt>
        <dd>
          {s.eraseVectors} erased · {s.preserveVectors} preserved
        </dd>
        <dt>rank of W′ − W</dt>
        <dd data-testid="edit-rank">{s.rank}</dd>
        <dt>RealEra samples</dt>
        <dd>
          {s.neighbors} neighbors · {s.beyond} beyond
        </dd>
        <dt>solver</dt>
        <dd>{s.solver}</dd>
        <dt>time</dt>
        <dd>
          {fmt(s.ms.total)} ms (encode {fmt(s.ms.encode)}, sample {fmt(s.ms.sample)}, solve {fmt(s.ms.solve)})
        </dd>
        <dt>undo steps</dt>
        <dd>{depth}</dd>
      </dl>
    </div>
  );
}

function MeasureSection({ ready }: { ready: boolean }) {
  const measure = useStudio((s) => s.concept.measure);
  const form = useStudio((s) => s.concept.form);
  const active = useStudio((s) => s.edit.active);
  const updateConcept = useStudio((s) => s.updateConcept);
  const target = form.targets.find((t) => t.concept.trim() !== '')?.concept.trim() ?? 'cat';
  const placeholder = `a photo of ${target}\na photo of a mountain lake`;
  return (
    <details className="measure" data-testid="measure">
      <summary>Measure the edit</summary>
      <p className="hint">How much the current edit moves the UNet's noise prediction for each prompt (same latent, seed and timestep). Prompts with the erased concept should move most.</p>
      <textarea rows={3} value={measure.prompts} placeholder={placeholder} onChange={(e) => updateConcept((c) => ({ measure: { ...c.measure, prompts: e.target.value } }))} data-testid="measure-prompts" spellCheck={false} />
      <button
        type="button"
        className="secondary"
        disabled={!ready || measure.busy || active === null}
        onClick={() => {
          if (measure.prompts.trim() === '') updateConcept((c) => ({ measure: { ...c.measure, prompts: placeholder } }));
          void measureEdit();
        }}
        data-testid="measure-button"
      >
        {measure.busy ? 'Measuring…' : 'Measure'}
      </button>
      <EngineErrorBox error={measure.error} testId="measure-error" />
      {measure.results && (
        <table data-testid="measure-results" data-edit-id={measure.editId ?? ''}>
          <thead>
            <tr>
              <th>prompt</th>
              <th>relative change</th>
            </tr>
          </thead>
          <tbody>
            {measure.results.map((r) => (
              <tr key={r.prompt} data-prompt={r.prompt} data-change={r.relativeChange}>
                <td>{r.prompt}</td>
                <td>{r.relativeChange.toExponential(3)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </details>
  );
}

function fmt(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : ms.toFixed(0);
}
