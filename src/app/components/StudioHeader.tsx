import { useState } from 'react';
import { useStudio } from '../store.ts';
import { shareableLink } from '../workbench-actions.ts';

/** One line: the name, the model in use, the GPU, a share link and the diagnostics drawer. */
export function StudioHeader() {
  const gpu = useStudio((s) => s.gpu);
  const loaded = useStudio((s) => s.model.loaded);
  const loading = useStudio((s) => s.model.load.state === 'loading');
  const hasEdit = useStudio((s) => s.edit.active?.kind === 'closed-form');
  const setOpen = useStudio((s) => s.setDiagnosticsOpen);
  const selfTest = useStudio((s) => s.selfTest);
  const [copied, setCopied] = useState(false);
  const copy = () => {
    void navigator.clipboard?.writeText(shareableLink()).then(
      () => setCopied(true),
      () => setCopied(false),
    );
    setTimeout(() => setCopied(false), 2000);
  };
  return (
    <header className="studio-header">
      <h1 title="Erase concepts from Stable Diffusion — on your GPU, in this tab, with no server.">Lethe</h1>
      <span className="header-tagline">concept erasure, in this tab</span>
      <span className="header-chips">
        <span className="chip-status" data-testid="header-model">
          model: {loaded ? loaded.source : loading ? 'loading…' : 'none'}
        </span>
        {gpu.state === 'ready' && (
          <span className="chip-status" data-testid="adapter-panel" title={gpu.problems.join('\n')}>
            GPU: <span data-testid="adapter-vendor">{gpu.report.vendor || 'unknown'}</span> {gpu.report.architecture}
            {gpu.problems.length > 0 && <span className="warn-dot" aria-label={`${gpu.problems.length} warnings`}> ⚠</span>}
          </span>
        )}
        {gpu.state === 'connecting' && <span className="chip-status">GPU: starting…</span>}
        {selfTest.state === 'done' && (
          <span className="chip-status" data-testid="header-self-test">
            self-test {selfTest.checks.filter((c) => c.passed).length}/{selfTest.checks.length}
          </span>
        )}
      </span>
      <span className="header-actions">
        <button type="button" className="secondary small" onClick={copy} disabled={!hasEdit} data-testid="share-link" title="The page URL holds the model and the recipe: whoever opens it gets the same erasure.">
          {copied ? 'Link copied' : 'Copy link'}
        </button>
        <button type="button" className="secondary small" onClick={() => setOpen(true)} data-testid="diagnostics-open">
          Diagnostics
        </button>
      </span>
    </header>
  );
}
