import { measureEdit } from '../edit-actions.ts';
import { useStudio } from '../store.ts';
import { activeEditId } from '../studio-state.ts';
import { formMatchesEdit } from '../workbench-state.ts';
import { BarChart } from './charts/index.ts';
import { EngineErrorBox, useEngineReady } from './common.tsx';
import { Term } from './Term.tsx';

/** How much the edit moves the noise prediction per prompt, as bars; tied to the edit it measured. */
export function MeasurePanel() {
  const ready = useEngineReady();
  const measure = useStudio((s) => s.concept.measure);
  const form = useStudio((s) => s.concept.form);
  const active = useStudio((s) => s.edit.active);
  const currentId = useStudio((s) => activeEditId(s.edit.active));
  const matches = useStudio((s) => formMatchesEdit(s.concept.form, s.edit));
  const updateConcept = useStudio((s) => s.updateConcept);
  const target = form.targets.find((t) => t.concept.trim() !== '')?.concept.trim() ?? 'cat';
  const placeholder = `a photo of the ${target}\na photo of the ship`;
  const outdated = measure.results !== null && (measure.editId !== currentId || !matches);
  return (
    <details className="panel measure" data-testid="measure">
      <summary>
        <h2>Measure the edit</h2>
      </summary>
      <p className="hint">
        <Term name="relativeChange">Relative change</Term> per prompt (same latent, seed and timestep). Prompts with the erased concept should move most.
      </p>
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
        <div className={`measure-results${outdated ? ' outdated' : ''}`} data-outdated={String(outdated)}>
          {outdated && (
            <p className="outdated-note" data-testid="measure-outdated">
              Outdated: measured for edit {measure.editId?.slice(0, 8) ?? '(none)'}, {measure.editId !== currentId ? 'not the current edit' : 'and the settings changed since'}. Measure again.
            </p>
          )}
          <BarChart
            categories={measure.results.map((r) => r.prompt)}
            series={[{ label: `relative change, edit ${measure.editId?.slice(0, 8) ?? ''}`, values: measure.results.map((r) => r.relativeChange) }]}
            yLabel="relative change"
            height={200}
            testId="measure-chart"
          />
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
        </div>
      )}
    </details>
  );
}
