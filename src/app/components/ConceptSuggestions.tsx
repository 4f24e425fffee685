import { useEffect, useRef, useState } from 'react';
import { CERTAINTIES, CERTAINTY_WEIGHT, type Certainty } from '../../erasure/proposer/certainty.ts';
import type { BackendChoice } from '../../erasure/proposer/backends.ts';
import type { Proposal } from '../../erasure/proposer/proposal.ts';
import { promptApiAvailability, type PromptApiAvailability } from '../../erasure/proposer/prompt-api-proposer.ts';
import { DEFAULT_PROPOSER_MODEL } from '../../erasure/proposer/transformers-proposer.ts';
import { withSuggestions, type AppliedSuggestions, type ChipValue } from '../concept-form.ts';
import { changeConceptForm } from '../edit-actions.ts';
import { engineClient } from '../engine-client.ts';
import { requestProposal } from '../proposer-client.ts';
import { applyEncoderCheck, encoderCheckNote } from '../suggestion-check.ts';
import { useStudio } from '../store.ts';

/** The studio's defaults, the same as `lethe propose`'s. */
const DEFAULT_COREFS = 10;
const DEFAULT_RETAINS = 8;

type BackendKind = BackendChoice['kind'];

interface SuggestionChip {
  concept: string;
  certainty: Certainty;
  source: string;
  chosen: boolean;
  /** Why the loaded model's text encoder doubts it (corefs only; null: confirmed or not checked). */
  modelNote: string | null;
}

interface SuggestionList {
  concept: string;
  source: string;
  corefs: SuggestionChip[];
  retains: SuggestionChip[];
  notes: string[];
  /** The check against the loaded model's text encoder: it runs after the list is shown, in the engine's queue. */
  modelCheck: 'none' | 'pending' | 'done' | 'failed';
}

const NONE: AppliedSuggestions = { corefs: [], retains: [] };

/**
 * "Suggest": asks the chosen proposer backend for corefs and retains of the first target and
 * shows them as chips with their certainty. Every chosen chip is in the concept form (corefs of
 * that target, retains) at its certainty's weight (1.0 / 0.8 / 0.6 / 0.4 / 0.2): unticking,
 * renaming or re-rating a chip changes the form, and so the next erase and its recipe.
 */
export function ConceptSuggestions({ targetIndex = 0 }: { targetIndex?: number }) {
  const target = useStudio((s) => s.concept.form.targets[targetIndex]?.concept.trim() ?? '');
  const kind = useStudio((s) => s.concept.form.kind);
  const loadedModel = useStudio((s) => s.model.loaded);
  const [backend, setBackend] = useState<BackendKind>('wordnet');
  const [hubId, setHubId] = useState(DEFAULT_PROPOSER_MODEL);
  const [endpoint, setEndpoint] = useState('');
  const [counts, setCounts] = useState({ corefs: DEFAULT_COREFS, retains: DEFAULT_RETAINS });
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [list, setList] = useState<SuggestionList | null>(null);
  const [checkWithModel, setCheckWithModel] = useState(true);
  // Bumped by every change of the list: a model check that returns after the user edited it is dropped.
  const listVersion = useRef(0);
  const [promptApi, setPromptApi] = useState<PromptApiAvailability>('unavailable');
  const applied = useRef<AppliedSuggestions>(NONE);

  useEffect(() => {
    void promptApiAvailability().then(setPromptApi);
  }, []);

  // Puts the chosen chips into the form in place of what this list put there before.
  const apply = (next: SuggestionList | null) => {
    const chosen = (chips: SuggestionChip[]): ChipValue[] => chips.filter((c) => c.chosen && c.concept.trim() !== '').map((c) => ({ concept: c.concept, weight: CERTAINTY_WEIGHT[c.certainty] }));
    const wanted = next ? { corefs: chosen(next.corefs), retains: chosen(next.retains) } : NONE;
    changeConceptForm((form) => {
      const result = withSuggestions(form, targetIndex, applied.current, wanted);
      applied.current = result.applied;
      return result.form;
    }, true);
    listVersion.current++;
    setList(next);
  };

  // The model's own view, after the list is shown (the engine may be busy generating): corefs its encoder puts nearer a kept concept get unticked.
  const checkAgainstModel = async (shown: SuggestionList) => {
    const version = listVersion.current;
    const kept = [...new Set([...shown.retains.map((r) => r.concept), ...useStudio.getState().concept.form.retains.map((r) => r.concept)].filter((k) => k.trim() !== ''))];
    let next: SuggestionList;
    try {
      const check = await engineClient().checkCandidates({ concept: shown.concept, kind, candidates: shown.corefs.map((c) => c.concept), kept });
      next = { ...shown, corefs: applyEncoderCheck(shown.corefs, check), notes: [...shown.notes, encoderCheckNote(check, 'the loaded model')], modelCheck: 'done' };
    } catch (e) {
      next = { ...shown, notes: [...shown.notes, `not checked against the loaded model: ${(e as Error).message}`], modelCheck: 'failed' };
    }
    if (listVersion.current === version) apply(next);
  };

  const suggest = async () => {
    const choice: BackendChoice = backend === 'transformers' ? { kind: 'transformers', hubId: hubId.trim() } : { kind: backend };
    setBusy(true);
    setError(null);
    setProgress('Asking…');
    try {
      const proposal: Proposal = await requestProposal(
        { concept: target, kind, corefs: counts.corefs, retains: counts.retains, backend: choice, ...(endpoint.trim() ? { endpoint: endpoint.trim() } : {}) },
        (p) => setProgress(p.bytesTotal && p.bytesDone !== undefined && p.bytesTotal > 1 ? `${p.message} (${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)})` : p.message),
      );
      const chips = (items: Proposal['corefs']): SuggestionChip[] => items.map((s) => ({ concept: s.concept, certainty: s.certainty, source: s.source, chosen: true, modelNote: null }));
      const willCheck = checkWithModel && loadedModel !== null && proposal.corefs.length > 0;
      const shown: SuggestionList = { concept: proposal.concept, source: proposal.source, corefs: chips(proposal.corefs), retains: chips(proposal.retains), notes: [...proposal.notes], modelCheck: willCheck ? 'pending' : 'none' };
      apply(shown);
      if (willCheck) void checkAgainstModel(shown);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };

  const change = (field: 'corefs' | 'retains', i: number, patch: Partial<SuggestionChip>) => {
    if (!list) return;
    // An edit wins over a model check still on its way (that check's result is dropped).
    apply({ ...list, [field]: list[field].map((chip, j) => (j === i ? { ...chip, ...patch } : chip)), modelCheck: list.modelCheck === 'pending' ? 'none' : list.modelCheck });
  };

  return (
    <fieldset className="concept-suggestions" data-testid="suggestions" data-busy={busy} style={{ border: '1px solid #33465c', borderRadius: 5, padding: '0.4rem 0.6rem', display: 'flex', flexDirection: 'column', gap: '0.35rem' }}>
      <div className="inline-fields" style={{ display: 'flex', flexWrap: 'wrap', gap: '0.5rem', alignItems: 'end' }}>
        <label title="Proposes concepts to erase with it (corefs) and related ones to keep (retains).">
          suggest related concepts with
          <select value={backend} onChange={(e) => setBackend(e.target.value as BackendKind)} data-testid="suggest-backend" disabled={busy}>
            <option value="wordnet">WordNet 3.1 (offline)</option>
            <option value="prompt-api" disabled={promptApi === 'unavailable'}>
              Chrome built-in model{promptApi === 'unavailable' ? ' (not in this browser)' : promptApi === 'available' ? '' : ' (downloads first)'}
            </option>
            <option value="transformers">hub model (transformers.js, WebGPU)</option>
          </select>
        </label>
        {backend === 'transformers' && (
          <>
            <label>
              hub id
              <input type="text" value={hubId} onChange={(e) => setHubId(e.target.value)} spellCheck={false} data-testid="suggest-hub-id" disabled={busy} style={{ minWidth: '16rem' }} />
            </label>
            <label>
              mirror
              <input type="text" value={endpoint} onChange={(e) => setEndpoint(e.target.value)} placeholder="https://huggingface.co" spellCheck={false} data-testid="suggest-endpoint" disabled={busy} />
            </label>
          </>
        )}
        <label>
          corefs
          <input type="number" min={0} max={32} step={1} value={counts.corefs} onChange={(e) => setCounts((c) => ({ ...c, corefs: clampCount(e.target.value) }))} data-testid="suggest-corefs" disabled={busy} style={{ width: '4rem' }} />
        </label>
        <label>
          retains
          <input type="number" min={0} max={32} step={1} value={counts.retains} onChange={(e) => setCounts((c) => ({ ...c, retains: clampCount(e.target.value) }))} data-testid="suggest-retains" disabled={busy} style={{ width: '4rem' }} />
        </label>
        <label title="After the suggestions arrive, compare each coref with the concept in the loaded model's text encoder; corefs nearer a kept concept start unticked.">
          <input type="checkbox" checked={checkWithModel} onChange={(e) => setCheckWithModel(e.target.checked)} data-testid="suggest-check" disabled={busy} /> check with the loaded model
        </label>
        <button type="button" className="secondary" onClick={() => void suggest()} disabled={busy || target === '' || (backend === 'transformers' && hubId.trim() === '')} data-testid="suggest-button" title={target === '' ? 'type a concept to erase first' : `suggest for "${target}"`}>
          {busy ? 'Suggesting…' : 'Suggest'}
        </button>
        {list && (
          <button type="button" className="secondary small" onClick={() => apply(null)} disabled={busy} data-testid="suggest-clear" title="take the suggestions out of the form">
            Clear suggestions
          </button>
        )}
      </div>
      {progress && (
        <p className="hint" data-testid="suggest-progress">
          {progress}
        </p>
      )}
      {error && (
        <div className="model-error engine-error" role="alert" data-testid="suggest-error">
          <p className="error-title">The proposer failed</p>
          <pre className="error-detail" style={{ whiteSpace: 'pre-wrap', maxHeight: '12rem', overflow: 'auto' }}>
            {error}
          </pre>
        </div>
      )}
      {list && (
        <div data-testid="suggestion-list" data-concept={list.concept} data-source={list.source} data-model-check={list.modelCheck}>
          <SuggestionChips title={`erased with "${list.concept}"`} testId="suggestion-coref" chips={list.corefs} onChange={(i, patch) => change('corefs', i, patch)} disabled={busy} />
          <SuggestionChips title="kept" testId="suggestion-retain" chips={list.retains} onChange={(i, patch) => change('retains', i, patch)} disabled={busy} />
          <ul className="hint" data-testid="suggest-notes" style={{ margin: '0.2rem 0 0', paddingLeft: '1rem' }}>
            {list.notes.map((note) => (
              <li key={note}>{note}</li>
            ))}
            {list.modelCheck === 'pending' && <li data-testid="suggest-check-pending">checking the corefs against the loaded model (after the engine's current work)…</li>}
            <li>
              from {list.source}; ticked chips are in the form at their certainty’s weight (Very High 1.0 … Very Low 0.2)
            </li>
          </ul>
        </div>
      )}
    </fieldset>
  );
}

function SuggestionChips({ title, testId, chips, onChange, disabled }: { title: string; testId: string; chips: SuggestionChip[]; onChange(i: number, patch: Partial<SuggestionChip>): void; disabled: boolean }) {
  return (
    <div className="chips-editor">
      <span className="chips-label">{title}</span>
      <div className="chips">
        {chips.length === 0 && <span className="hint">none</span>}
        {chips.map((chip, i) => (
          <span
            key={i}
            className="chip"
            data-testid={testId}
            data-concept={chip.concept}
            data-certainty={chip.certainty}
            data-weight={CERTAINTY_WEIGHT[chip.certainty]}
            data-chosen={chip.chosen}
            data-model-doubt={chip.modelNote !== null}
            title={chip.modelNote ? `proposed by ${chip.source}; ${chip.modelNote}` : `proposed by ${chip.source}`}
            style={{ opacity: chip.chosen ? 1 : 0.5, ...(chip.modelNote ? { borderStyle: 'dashed' } : {}) }}
          >
            <input type="checkbox" checked={chip.chosen} onChange={(e) => onChange(i, { chosen: e.target.checked })} aria-label={`use ${chip.concept}`} disabled={disabled} />
            <input type="text" value={chip.concept} onChange={(e) => onChange(i, { concept: e.target.value })} aria-label="concept" spellCheck={false} disabled={disabled} size={Math.max(4, chip.concept.length)} style={{ background: 'transparent', border: 0, color: 'inherit', font: 'inherit', padding: 0 }} />
            <select value={chip.certainty} onChange={(e) => onChange(i, { certainty: e.target.value as Certainty })} aria-label={`certainty of ${chip.concept}`} disabled={disabled} style={{ fontSize: '0.75rem' }}>
              {CERTAINTIES.map((c) => (
                <option key={c} value={c}>
                  {c} · {CERTAINTY_WEIGHT[c].toFixed(1)}
                </option>
              ))}
            </select>
          </span>
        ))}
      </div>
    </div>
  );
}

function clampCount(text: string): number {
  const value = Math.round(Number(text));
  return Number.isFinite(value) ? Math.min(32, Math.max(0, value)) : 0;
}

function formatBytes(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;
}
