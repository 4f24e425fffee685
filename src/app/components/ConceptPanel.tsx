import { useEffect, useState } from 'react';
import { CONCEPT_KINDS, type ConceptKind } from '../../erasure/concept-sets.ts';
import { ERASURE_METHODS, parseRecipe, type ErasureMethod } from '../../erasure/recipe.ts';
import { TOKEN_SELECTION_MODES, type TokenSelectionMode } from '../../erasure/token-selection.ts';
import { emptyTarget, methodSwitchChanges, withCifar10Preserve, withMethod, type ChipValue, type ConceptForm, type RealEraForm, type TargetForm } from '../concept-form.ts';
import { presetsFromWorld, withPreset, type ConceptPreset } from '../concept-presets.ts';
import { changeConceptForm, clearEdit, downloadRecipe, eraseNow, openRecipe, redo, undo } from '../edit-actions.ts';
import { canRedo, canUndo } from '../edit-stack.ts';
import { editInWords } from '../edit-words.ts';
import { numberField } from '../generate-form.ts';
import { useStudio } from '../store.ts';
import { formatDuration } from '../time-estimate.ts';
import { formMatchesEdit } from '../workbench-state.ts';
import { EngineErrorBox, FileButton, NotReadyHint, Slider, useEngineReady } from './common.tsx';
import { ChipsEditor } from './ChipsEditor.tsx';
import { ConceptSuggestions } from './ConceptSuggestions.tsx';
import { Term } from './Term.tsx';

const METHOD_LABEL: Record<ErasureMethod, string> = { uce: 'UCE (closed form)', realera: 'RealEra (neighbors + closed form)' };
const TOKEN_LABEL: Record<TokenSelectionMode, string> = { last: 'last subject token', subject: 'subject and following tokens', all: 'all tokens' };

/** Steps 2 and 3: what to erase, how, and the Erase button with what it did. */
export function ConceptPanel() {
  const ready = useEngineReady();
  const busy = useStudio((s) => s.edit.busy);
  const error = useStudio((s) => s.concept.error);
  const updateConcept = useStudio((s) => s.updateConcept);
  return (
    <section className="panel concept-panel step" data-testid="concept-panel" aria-busy={busy}>
      <h2>
        <span className="step-number">2</span> Concept to erase
      </h2>
      <ConceptFields />
      <ConceptSuggestions />
      <h2>
        <span className="step-number">3</span> Method and erase
      </h2>
      <MethodChoice />
      <ErasureSettings />
      <EraseRow ready={ready} busy={busy} />
      <NotReadyHint />
      <EngineErrorBox error={error} testId="concept-error" onDismiss={() => updateConcept({ error: null })} />
      <EditSummaryView />
      <EditFileButtons ready={ready} />
    </section>
  );
}

function useFormSetter() {
  return (patch: Partial<ConceptForm> | ((form: ConceptForm) => ConceptForm), recompute = false) => changeConceptForm(patch, recompute);
}

/** The concept world's objects as one-click presets (none when the world file is absent). */
function usePresets(): ConceptPreset[] {
  const [presets, setPresets] = useState<ConceptPreset[]>([]);
  useEffect(() => {
    let live = true;
    fetch('concept-world/world.json')
      .then((response) => (response.ok ? response.json() : null))
      .then((world: unknown) => {
        if (live) setPresets(presetsFromWorld(world));
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  return presets;
}

function ConceptFields() {
  const form = useStudio((s) => s.concept.form);
  const drafts = useStudio((s) => s.concept.drafts);
  const updateConcept = useStudio((s) => s.updateConcept);
  const presets = usePresets();
  const set = useFormSetter();
  const setDraft = (key: string) => (text: string) => updateConcept((c) => ({ drafts: { ...c.drafts, [key]: text } }));
  const setTarget = (i: number, patch: Partial<TargetForm>, recompute = false) =>
    set((f) => ({ ...f, targets: f.targets.map((t, j) => (j === i ? { ...t, ...patch } : t)) }), recompute);
  const suffix = (i: number) => (i === 0 ? '' : `-${i}`);
  const corefCount = form.targets.reduce((n, t) => n + t.corefs.length, 0);
  const anchors = [...new Set(form.targets.map((t) => t.anchor.trim()))].map((a) => (a === '' ? '""' : `"${a}"`)).join(', ');
  return (
    <div className="concept-fields">
      {form.targets.map((target, i) => (
        <div key={i} className="target-row" data-testid={`target${suffix(i)}`}>
          <label className="concept-input" title="What to remove from the model, as it appears in prompts.">
            {form.targets.length > 1 ? `concept ${i + 1}` : 'concept'}
            <input type="text" value={target.concept} onChange={(e) => setTarget(i, { concept: e.target.value })} placeholder="e.g. cat, Van Gogh" spellCheck={false} data-testid={`concept${suffix(i)}`} />
          </label>
          <label className="weight">
            weight
            <input type="number" min={0.05} step={0.05} value={Number.isFinite(target.weight) ? target.weight : ''} onChange={(e) => setTarget(i, { weight: numberField(e.target.value) }, true)} data-testid={`concept-weight${suffix(i)}`} />
          </label>
          {form.targets.length > 1 && (
            <button type="button" className="secondary small" onClick={() => set((f) => ({ ...f, targets: f.targets.filter((_, j) => j !== i) }))} aria-label={`remove target ${i + 1}`}>
              remove
            </button>
          )}
        </div>
      ))}
      {presets.length > 0 && (
        <div className="presets" data-testid="concept-presets">
          <span className="chips-label" title="Each preset erases a concept-world object with its synonyms and preserves the other objects.">
            presets
          </span>
          {presets.map((preset) => (
            <button
              type="button"
              key={preset.concept}
              className="secondary small"
              onClick={() => set((f) => withPreset(f, preset))}
              data-testid="concept-preset"
              data-concept={preset.concept}
              title={`erase ${preset.concept} with ${preset.synonyms.join(', ') || 'no synonyms'}; preserve the other ${preset.others.length} objects`}
            >
              {preset.concept}
            </button>
          ))}
        </div>
      )}
      <details className="concept-sets" data-testid="concept-sets">
        <summary data-testid="concept-sets-summary">
          Erased with it and kept: anchor {anchors} · {corefCount} corefs · {form.retains.length} retained · {form.preserve.length} preserved
        </summary>
        {form.targets.map((target, i) => (
          <fieldset key={i} className="target" data-testid={`target-sets${suffix(i)}`}>
            {form.targets.length > 1 && <legend>{target.concept.trim() || `concept ${i + 1}`}</legend>}
            <label className="anchor">
              <Term name="anchor" inline>
                anchor
              </Term>
              <input type="text" value={target.anchor} onChange={(e) => setTarget(i, { anchor: e.target.value })} placeholder='"" (empty prompt)' spellCheck={false} data-testid={`anchor${suffix(i)}`} />
            </label>
            <ChipsEditor
              label={<Term name="coref">corefs</Term>}
              ariaLabel="corefs (erased with it)"
              testId={`coref-input${suffix(i)}`}
              chips={target.corefs}
              draft={drafts[`coref-${i}`] ?? ''}
              onDraft={setDraft(`coref-${i}`)}
              onChange={(corefs: ChipValue[], weightOnly) => setTarget(i, { corefs }, weightOnly)}
              placeholder="e.g. kitten, tabby"
            />
          </fieldset>
        ))}
        <ChipsEditor
          label={<Term name="retain">retain</Term>}
          ariaLabel="retain (related, kept)"
          testId="retain-input"
          chips={form.retains}
          draft={drafts.retain ?? ''}
          onDraft={setDraft('retain')}
          onChange={(retains, weightOnly) => set({ retains }, weightOnly)}
          placeholder="e.g. tiger, lion"
        />
        <div className="preserve-row">
          <ChipsEditor
            label={<Term name="preserve">preserve</Term>}
            ariaLabel="preserve"
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
        <button type="button" className="link add-target" onClick={() => set((f) => ({ ...f, targets: [...f.targets, emptyTarget()] }))} data-testid="add-target">
          + another concept to erase
        </button>
      </details>
    </div>
  );
}

function MethodChoice() {
  const form = useStudio((s) => s.concept.form);
  const note = useStudio((s) => s.methodNote);
  const setMethodNote = useStudio((s) => s.setMethodNote);
  const set = useFormSetter();
  const choose = (method: ErasureMethod) => {
    const before = useStudio.getState().concept.form;
    const after = withMethod(before, method);
    set(after);
    const changes = methodSwitchChanges(before, after);
    // Said where the method is chosen, never changed silently.
    setMethodNote(changes.length > 0 ? `Switching to ${method === 'realera' ? 'RealEra' : 'UCE'} also set ${changes.join(', ')} (its published default).` : null);
  };
  return (
    <div className="method-choice">
      <label className="method-label">
        <Term name="method">method</Term>
        <select value={form.method} onChange={(e) => choose(e.target.value as ErasureMethod)} data-testid="method">
          {ERASURE_METHODS.map((method) => (
            <option key={method} value={method}>
              {METHOD_LABEL[method]}
            </option>
          ))}
        </select>
      </label>
      {note && (
        <p className="note" role="status" data-testid="method-change-note">
          {note}
        </p>
      )}
    </div>
  );
}

function ErasureSettings() {
  const form = useStudio((s) => s.concept.form);
  const set = useFormSetter();
  const setRealEra = (patch: Partial<RealEraForm>) => set((f) => ({ ...f, realera: { ...f.realera, ...patch } }), true);
  return (
    <details className="erasure-settings" data-testid="erasure-settings">
      <summary>
        Fine-tune: token mode, lambda, scales{form.method === 'realera' ? ', RealEra sampling' : ''}
      </summary>
      <label className="inline">
        kind
        <select value={form.kind} onChange={(e) => set({ kind: e.target.value as ConceptKind })} data-testid="concept-kind">
          {CONCEPT_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {kind}
            </option>
          ))}
        </select>
      </label>
      <label className="inline">
        <Term name="tokens" inline>
          token mode
        </Term>
        <select value={form.tokens} onChange={(e) => set({ tokens: e.target.value as TokenSelectionMode }, true)} data-testid="token-mode">
          {TOKEN_SELECTION_MODES.map((mode) => (
            <option key={mode} value={mode}>
              {TOKEN_LABEL[mode]}
            </option>
          ))}
        </select>
      </label>
      <label className="inline">
        <input type="checkbox" checked={form.sharedRows === 'keep'} onChange={(e) => set({ sharedRows: e.target.checked ? 'keep' : 'free' }, true)} data-testid="shared-rows" />
        <Term name="sharedRows" inline>
          keep shared rows
        </Term>
      </label>
      <Slider label={<Term name="lambda">lambda</Term>} ariaLabel="lambda" testId="lambda" value={form.lambda} min={0.01} max={5} step={0.01} onChange={(lambda) => set({ lambda }, true)} />
      <Slider label={<Term name="eraseScale">erase scale</Term>} ariaLabel="erase scale" testId="erase-scale" value={form.eraseScale} min={0} max={5} step={0.05} onChange={(eraseScale) => set({ eraseScale }, true)} />
      <Slider label={<Term name="preserveScale">preserve scale</Term>} ariaLabel="preserve scale" testId="preserve-scale" value={form.preserveScale} min={0} max={5} step={0.05} onChange={(preserveScale) => set({ preserveScale }, true)} />
      {form.method === 'realera' && (
        <fieldset className="realera" data-testid="realera-settings">
          <legend>RealEra neighbor sampling</legend>
          <Slider label={<Term name="s1">S1 (upper cosine)</Term>} ariaLabel="S1" testId="realera-s1" value={form.realera.s1} min={-1} max={1} step={0.01} onChange={(s1) => setRealEra({ s1 })} />
          <Slider label={<Term name="s2">S2 (lower cosine)</Term>} ariaLabel="S2" testId="realera-s2" value={form.realera.s2} min={-1} max={1} step={0.01} onChange={(s2) => setRealEra({ s2 })} />
          <Slider label={<Term name="m">M (neighbors)</Term>} ariaLabel="M" testId="realera-m" value={form.realera.m} min={0} max={20} step={1} onChange={(m) => setRealEra({ m })} />
          <Slider label={<Term name="n">N (beyond samples)</Term>} ariaLabel="N" testId="realera-n" value={form.realera.n} min={0} max={20} step={1} onChange={(n) => setRealEra({ n })} />
          <Slider label={<Term name="d1">D1 (neighbor radius)</Term>} ariaLabel="D1" testId="realera-d1" value={form.realera.d1} min={10} max={2000} step={10} onChange={(d1) => setRealEra({ d1 })} />
          <Slider label={<Term name="d2">D2 (beyond radius)</Term>} ariaLabel="D2" testId="realera-d2" value={form.realera.d2} min={20} max={4000} step={10} onChange={(d2) => setRealEra({ d2 })} />
          <label className="inline">
            <Term name="seed" inline>
              seed
            </Term>
            <input type="number" min={0} step={1} value={Number.isFinite(form.realera.seed) ? form.realera.seed : ''} onChange={(e) => setRealEra({ seed: numberField(e.target.value) })} data-testid="realera-seed" />
          </label>
        </fieldset>
      )}
    </details>
  );
}

function EraseRow({ ready, busy }: { ready: boolean; busy: boolean }) {
  const method = useStudio((s) => s.concept.form.method);
  const lastMs = useStudio((s) => s.timings.eraseMs[method]);
  const [started, setStarted] = useState<number | null>(null);
  const [now, setNow] = useState(0);
  useEffect(() => {
    if (!busy) {
      setStarted(null);
      return;
    }
    const begin = performance.now();
    setStarted(begin);
    setNow(begin);
    const timer = setInterval(() => setNow(performance.now()), 250);
    return () => clearInterval(timer);
  }, [busy]);
  const estimate = lastMs === undefined ? 'the first erase also encodes the prompts' : `${formatDuration(lastMs)}, as measured last time`;
  return (
    <div className="button-row erase-row">
      <button type="button" className="primary" onClick={() => void eraseNow()} disabled={!ready || busy} data-testid="erase-button">
        {busy ? 'Erasing…' : 'Erase'}
      </button>
      <span className="hint" data-testid="erase-status">
        {busy && started !== null ? `Encoding prompts and solving… ${((now - started) / 1000).toFixed(1)} s (${estimate})` : lastMs !== undefined ? `Takes ${formatDuration(lastMs)} on this GPU.` : ''}
      </span>
    </div>
  );
}

function EditFileButtons({ ready }: { ready: boolean }) {
  const stack = useStudio((s) => s.edit.stack);
  const active = useStudio((s) => s.edit.active);
  const busy = useStudio((s) => s.edit.busy);
  return (
    <div className="button-row edit-files">
      <button type="button" className="secondary small" onClick={() => void undo()} disabled={!ready || busy || !canUndo(stack)} data-testid="undo" title="Ctrl+Z">
        Undo
      </button>
      <button type="button" className="secondary small" onClick={() => void redo()} disabled={!ready || busy || !canRedo(stack)} data-testid="redo" title="Ctrl+Shift+Z">
        Redo
      </button>
      <button type="button" className="secondary small" onClick={() => void clearEdit()} disabled={!ready || busy || active === null} data-testid="clear-edit">
        Clear edit
      </button>
      <button type="button" className="secondary small" onClick={downloadRecipe} disabled={active?.kind !== 'closed-form'} data-testid="recipe-download">
        Download recipe
      </button>
      <FileButton label="Open recipe" accept=".json,application/json" testId="recipe-open" disabled={!ready || busy} onFile={(file) => void openRecipe(file)} />
    </div>
  );
}

function EditSummaryView() {
  const active = useStudio((s) => s.edit.active);
  const depth = useStudio((s) => s.edit.stack.undo.length);
  const matches = useStudio((s) => formMatchesEdit(s.concept.form, s.edit));
  if (!active)
    return (
      <p className="edit-summary hint" data-testid="edit-summary" data-edit-id="" data-kind="none">
        No edit yet: type a concept and press Erase. The comparison fills in on its own.
      </p>
    );
  if (active.kind === 'lora') {
    const s = active.summary;
    return (
      <div className="edit-summary" data-testid="edit-summary" data-edit-id={s.editId} data-kind="lora" data-outdated="false">
        <p className="words">
          The LoRA file {s.fileName} at strength {s.strength} changes {s.applied.length} projections.
        </p>
        <p className="hint">edit {s.editId.slice(0, 12)}</p>
      </div>
    );
  }
  const s = active.summary;
  let words = { headline: '', detail: '' };
  try {
    words = editInWords(parseRecipe(s.recipe, 'recipe'), s);
  } catch {
    words = { headline: `Edit ${s.id.slice(0, 12)}.`, detail: '' };
  }
  return (
    <div className={`edit-summary${matches ? '' : ' outdated'}`} data-testid="edit-summary" data-edit-id={s.id} data-kind="closed-form" data-rank={s.rank} data-outdated={String(!matches)}>
      {!matches && (
        <p className="outdated-note" data-testid="edit-outdated">
          Outdated: the settings above changed since this edit. Press Erase to update it; the results below still show the edit described here.
        </p>
      )}
      <p className="words" data-testid="edit-words">
        {words.headline}
      </p>
      <p className="detail">
        {words.detail} <span title={s.id}>Edit {s.id.slice(0, 8)}</span> · <span data-testid="edit-rank">{s.rank}</span> = rank · {depth} undo steps.
      </p>
      {matches && <p className="next-step" data-testid="next-step">Next: compare before and after in step 4; pin this edit to compare it with another method; export it as a LoRA below.</p>}
    </div>
  );
}
