import { useEffect } from 'react';
import { formatBytes } from '../../gpu/device.ts';
import { clearModelCache, refreshCacheInfo } from '../actions.ts';
import { useStudio } from '../store.ts';
import { AdapterPanel } from './AdapterPanel.tsx';
import { PackFiles } from './ModelPanel.tsx';
import { SelfTestPanel } from './SelfTestPanel.tsx';

/** GPU details, the pack's files and numbers, the cache, and the kernel self-test: out of the way. */
export function DiagnosticsDrawer() {
  const open = useStudio((s) => s.diagnosticsOpen);
  const setOpen = useStudio((s) => s.setDiagnosticsOpen);
  useEffect(() => {
    void refreshCacheInfo();
  }, []);
  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') setOpen(false);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open, setOpen]);
  if (!open) return null;
  return (
    <aside className="drawer" data-testid="diagnostics" aria-label="diagnostics">
      <div className="drawer-head">
        <h2>Diagnostics</h2>
        <button type="button" className="secondary small" onClick={() => setOpen(false)} data-testid="diagnostics-close">
          Close
        </button>
      </div>
      <AdapterPanel />
      <PackDetails />
      <SelfTestPanel />
    </aside>
  );
}

function PackDetails() {
  const loaded = useStudio((s) => s.model.loaded);
  const load = useStudio((s) => s.model.load);
  const loading = load.state === 'loading';
  return (
    <section className="panel pack-details" data-testid="pack-details">
      <h2>Model pack</h2>
      {loaded ? (
        <dl>
          <dt>description</dt><dd>{loaded.description}</dd>
          <dt>family</dt><dd>{loaded.family}</dd>
          <dt>weights</dt><dd>{loaded.dtype}</dd>
          <dt>size</dt><dd>{formatBytes(loaded.bytes)} in {loaded.files} files ({loaded.downloadedBytes > 0 ? `${formatBytes(loaded.downloadedBytes)} fetched this time` : 'all from the cache'})</dd>
          <dt>cross-attention</dt><dd>{loaded.crossAttentionLayers} layers</dd>
          <dt>source</dt><dd>{loaded.source}</dd>
          <dt>pack id</dt><dd title={loaded.id}>{loaded.id.slice(0, 16)}…</dd>
          {load.state === 'done' && (<><dt>load time</dt><dd>{(load.ms / 1000).toFixed(1)} s</dd></>)}
        </dl>
      ) : (
        <p className="hint">No model loaded yet.</p>
      )}
      <PackFiles />
      <CacheLine disabled={loading} />
    </section>
  );
}

function CacheLine({ disabled }: { disabled: boolean }) {
  const { cache, cacheBusy, cacheError } = useStudio((s) => s.model);
  return (
    <div className="cache-line">
      <span>
        Cache:{' '}
        <span data-testid="cache-size" data-bytes={cache?.bytes ?? ''}>
          {cache ? `${formatBytes(cache.bytes)} in ${cache.entries} files` : '…'}
        </span>
        {cache && <span className="hint"> ({cache.description}{cache.quotaBytes !== undefined ? `; quota ${formatBytes(cache.quotaBytes)}` : ''})</span>}
      </span>
      <button type="button" className="secondary" onClick={() => void clearModelCache()} disabled={disabled || cacheBusy || cache?.bytes === 0} data-testid="cache-clear">
        {cacheBusy ? 'Clearing…' : 'Clear cache'}
      </button>
      {cacheError && <p className="error" role="alert" data-testid="cache-error">{cacheError}</p>}
    </div>
  );
}
