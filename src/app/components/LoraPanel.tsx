import { formatBytes } from '../../gpu/device.ts';
import { exportLora, openLora, setLoraStrength } from '../lora-actions.ts';
import { RANK_SUGGESTIONS, type LoraForm } from '../lora-form.ts';
import { useStudio } from '../store.ts';
import { activeEditId } from '../studio-state.ts';
import { formMatchesEdit } from '../workbench-state.ts';
import { EngineErrorBox, FileButton, NotReadyHint, Slider, useEngineReady } from './common.tsx';

export function LoraPanel() {
  const ready = useEngineReady();
  const error = useStudio((s) => s.lora.error);
  const updateLora = useStudio((s) => s.updateLora);
  return (
    <section className="panel lora-panel step" data-testid="lora-panel">
      <h2>
        <span className="step-number">5</span> Export as a LoRA
      </h2>
      <ExportSection ready={ready} />
      <ImportSection ready={ready} />
      <NotReadyHint />
      <EngineErrorBox error={error} testId="lora-error" onDismiss={() => updateLora({ error: null })} />
    </section>
  );
}

function ExportSection({ ready }: { ready: boolean }) {
  const form = useStudio((s) => s.lora.form);
  const exporting = useStudio((s) => s.lora.exporting);
  const hasEdit = useStudio((s) => s.edit.active?.kind === 'closed-form');
  const updateLora = useStudio((s) => s.updateLora);
  const set = (patch: Partial<LoraForm>) => updateLora((l) => ({ form: { ...l.form, ...patch } }));
  return (
    <div className="lora-export">
      <h3>Export the current edit</h3>
      <div className="inline-fields">
        <label>
          keys
          <select value={form.convention} onChange={(e) => set({ convention: e.target.value as LoraForm['convention'] })} data-testid="lora-convention">
            <option value="kohya">kohya (A1111, ComfyUI)</option>
            <option value="diffusers">diffusers / PEFT</option>
          </select>
        </label>
        <label>
          rank
          <input type="text" list="lora-rank-options" value={form.rank} onChange={(e) => set({ rank: e.target.value })} size={6} spellCheck={false} data-testid="lora-rank" title='"exact" keeps every erase direction; a number truncates by SVD' />
          <datalist id="lora-rank-options">
            {RANK_SUGGESTIONS.map((rank) => (
              <option key={rank} value={rank} />
            ))}
          </datalist>
        </label>
        <label>
          dtype
          <select value={form.dtype} onChange={(e) => set({ dtype: e.target.value as LoraForm['dtype'] })} data-testid="lora-dtype">
            <option value="fp16">fp16</option>
            <option value="fp32">fp32</option>
          </select>
        </label>
      </div>
      <button type="button" onClick={() => void exportLora()} disabled={!ready || !hasEdit || exporting} data-testid="lora-download">
        {exporting ? 'Exporting…' : 'Download LoRA'}
      </button>
      {!hasEdit && <p className="hint">Erase a concept first: the LoRA is the closed-form edit, W′ − W, as low-rank factors.</p>}
      <ExportReport />
    </div>
  );
}

function ExportReport() {
  const exported = useStudio((s) => s.lora.exported);
  const currentId = useStudio((s) => activeEditId(s.edit.active));
  const matches = useStudio((s) => formMatchesEdit(s.concept.form, s.edit));
  if (!exported) return null;
  const truncated = exported.worstRelativeError > 0 || exported.layers.some((l) => l.relativeError > 0);
  const outdated = exported.editId !== currentId || !matches;
  return (
    <div className={`lora-report${outdated ? ' outdated' : ''}`} data-testid="lora-export-summary" data-rank={exported.rank} data-worst={exported.worstRelativeError} data-file={exported.fileName} data-edit-id={exported.editId ?? ''} data-outdated={String(outdated)}>
      {outdated && (
        <p className="outdated-note" data-testid="lora-outdated">
          Outdated: this file holds edit {exported.editId?.slice(0, 8)}, {exported.editId !== currentId ? 'not the current edit' : 'and the settings changed since'}. Download again for the current one.
        </p>
      )}
      <p>
        Saved <span className="mono">{exported.fileName}</span> ({formatBytes(exported.bytes)}; {exported.options}): rank {exported.rank}, {exported.layers.length} projections.{' '}
        {truncated ? (
          <>
            Worst relative error <strong data-testid="lora-worst">{exported.worstRelativeError.toExponential(2)}</strong> (|Δ − Δᵣ|_F / |Δ|_F).
          </>
        ) : (
          <span data-testid="lora-worst">Exact: every projection's W′ − W is reproduced (up to {exported.options.includes('fp16') ? 'fp16 rounding' : 'float32 rounding'}).</span>
        )}
      </p>
      <table className="lora-errors" data-testid="lora-errors" data-truncated={String(truncated)}>
        <thead>
          <tr>
            <th>projection</th>
            <th>rank</th>
            <th>relative error</th>
          </tr>
        </thead>
        <tbody>
          {[...exported.layers]
            .sort((a, b) => b.relativeError - a.relativeError)
            .map((layer) => (
              <tr key={layer.module} data-module={layer.module} data-error={layer.relativeError} className={layer.relativeError === exported.worstRelativeError && truncated ? 'worst' : ''}>
                <td className="mono">{layer.module}</td>
                <td>{layer.rank}</td>
                <td>{layer.relativeError === 0 ? '0 (exact)' : layer.relativeError.toExponential(2)}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}

function ImportSection({ ready }: { ready: boolean }) {
  const strength = useStudio((s) => s.lora.form.strength);
  const importing = useStudio((s) => s.lora.importing);
  const busy = useStudio((s) => s.edit.busy);
  return (
    <div className="lora-import">
      <h3>Apply a LoRA file</h3>
      <Slider label="strength" testId="lora-strength" value={strength} min={0} max={2} step={0.05} onChange={setLoraStrength} hint="multiplies the LoRA's delta; re-applied as you move it" />
      <FileButton label={importing ? 'Opening…' : 'Open LoRA'} accept=".safetensors" testId="lora-open" disabled={!ready || busy} onFile={(file) => void openLora(file)} />
      <ImportSummary />
    </div>
  );
}

function ImportSummary() {
  const imported = useStudio((s) => s.lora.imported);
  const active = useStudio((s) => s.edit.active);
  if (!imported) return null;
  const current = active?.kind === 'lora' && active.summary.editId === imported.editId;
  return (
    <div className="lora-import-summary" data-testid="lora-import-summary" data-edit-id={imported.editId} data-applied={imported.applied.length} data-not-applied={imported.notApplied.length} data-current={String(current)}>
      <p>
        <span className="mono">{imported.fileName}</span> at strength {imported.strength}: {imported.applied.length} projections applied
        {imported.notApplied.length > 0 ? `, ${imported.notApplied.length} keys not applied` : ', every key applied'}.{!current && ' (no longer the current edit)'}
      </p>
      {imported.notApplied.length > 0 && (
        <div className="not-applied" data-testid="lora-not-applied">
          <p className="warning">Not applied — Lethe edits only the cross-attention to_k/to_v projections:</p>
          <ul>
            {imported.notApplied.map((key) => (
              <li key={key} className="mono">
                {key}
              </li>
            ))}
          </ul>
        </div>
      )}
      <details>
        <summary>applied projections ({imported.applied.length})</summary>
        <ul className="applied" data-testid="lora-applied">
          {imported.applied.map((module) => (
            <li key={module} className="mono">
              {module}
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}
