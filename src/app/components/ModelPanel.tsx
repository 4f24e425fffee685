import { useEffect } from 'react';
import type { DemoPreset } from '../../engine/api.ts';
import { formatBytes } from '../../gpu/device.ts';
import { canPickDirectory, clearModelCache, loadModelPack, pickModelFolder, refreshCacheInfo, takeModelFiles } from '../actions.ts';
import { percent, type FileLoadView, type ModelSourceChoice, type PackLoadView } from '../model-load.ts';
import { useStudio } from '../store.ts';

const PHASES: Record<PackLoadView['phase'], string> = {
  manifest: 'Reading manifest.json…',
  download: 'Downloading',
  prepare: 'Preparing',
  compile: 'Compiling',
  ready: 'Ready',
};

export function ModelPanel() {
  const loading = useStudio((s) => s.model.load.state === 'loading');
  useEffect(() => {
    void refreshCacheInfo();
  }, []);
  return (
    <section className="panel model-panel" data-testid="model-panel" aria-busy={loading}>
      <h2>Model</h2>
      <SourceChoice disabled={loading} />
      <button type="button" onClick={() => void loadModelPack()} disabled={loading} data-testid="model-load">
        {loading ? 'Loading…' : 'Load'}
      </button>
      <LoadError />
      <LoadProgress />
      <LoadedPack />
      <CacheLine disabled={loading} />
    </section>
  );
}

function SourceChoice({ disabled }: { disabled: boolean }) {
  const { choice, demoPreset, hub, folder } = useStudio((s) => s.model);
  const updateModel = useStudio((s) => s.updateModel);
  const choose = (next: ModelSourceChoice) => updateModel({ choice: next });
  const setHub = (field: keyof typeof hub, value: string) => updateModel((m) => ({ hub: { ...m.hub, [field]: value } }));
  return (
    <fieldset className="source-choice" disabled={disabled}>
      <legend>Load a model pack from</legend>
      <label className="source-option">
        <input type="radio" name="model-source" checked={choice === 'demo'} onChange={() => choose('demo')} data-testid="model-source-demo" />
        the built-in demo pack
        <select value={demoPreset} onChange={(e) => updateModel({ choice: 'demo', demoPreset: e.target.value as DemoPreset })} data-testid="demo-preset" aria-label="demo pack">
          <option value="tiny-sd15">tiny SD 1.5-shaped</option>
          <option value="tiny-sd21">tiny SD 2.1-shaped</option>
        </select>
      </label>
      {choice === 'demo' && <p className="hint">A tiny model with seeded random weights, made in this tab: no download. Its images mean nothing, but it runs the whole workflow in seconds.</p>}

      <label className="source-option">
        <input type="radio" name="model-source" checked={choice === 'hub'} onChange={() => choose('hub')} data-testid="model-source-hub" />
        a Hugging Face hub repo
      </label>
      {choice === 'hub' && (
        <div className="hub-fields">
          <label>
            repo
            <input type="text" value={hub.repo} onChange={(e) => setHub('repo', e.target.value)} placeholder="owner/name" spellCheck={false} autoComplete="off" data-testid="hub-repo" />
          </label>
          <label>
            revision
            <input type="text" value={hub.revision} onChange={(e) => setHub('revision', e.target.value)} placeholder="main" spellCheck={false} autoComplete="off" data-testid="hub-revision" />
          </label>
          <details className="advanced">
            <summary data-testid="hub-advanced">advanced</summary>
            <label>
              endpoint
              <input type="url" value={hub.endpoint} onChange={(e) => setHub('endpoint', e.target.value)} placeholder="https://huggingface.co" spellCheck={false} autoComplete="off" data-testid="hub-endpoint" />
            </label>
            <label>
              access token
              <input type="password" value={hub.token} onChange={(e) => setHub('token', e.target.value)} placeholder="for private or gated repos" autoComplete="off" data-testid="hub-token" />
            </label>
          </details>
          <p className="hint">The repo must hold a Lethe pack (manifest.json at its root). Files are verified and cached in this browser.</p>
        </div>
      )}

      <label className="source-option">
        <input type="radio" name="model-source" checked={choice === 'folder'} onChange={() => choose('folder')} data-testid="model-source-folder" />
        a folder on this computer
      </label>
      {choice === 'folder' && (
        <div className="folder-fields">
          {canPickDirectory() && (
            <button type="button" className="secondary" onClick={() => void pickModelFolder()} data-testid="folder-pick">
              Choose folder…
            </button>
          )}
          <label className="folder-input">
            {canPickDirectory() ? 'or select it here:' : 'folder:'}
            <input
              type="file"
              multiple
              ref={(input) => input?.setAttribute('webkitdirectory', '')}
              onChange={(e) => takeModelFiles(e.target.files)}
              data-testid="folder-input"
            />
          </label>
          <span className="picked" data-testid="folder-picked">
            {folder ? `${folder.name}${folder.kind === 'files' ? ` (${folder.files.length} files)` : ''}` : 'no folder chosen'}
          </span>
          <p className="hint">Choose the pack folder: the one that contains manifest.json.</p>
        </div>
      )}
    </fieldset>
  );
}

function LoadError() {
  const error = useStudio((s) => s.model.error);
  const loaded = useStudio((s) => s.model.loaded);
  if (!error) return null;
  return (
    <div className="model-error" role="alert" data-testid="model-error">
      <p className="error-title">{error.title}</p>
      {error.advice && <p>{error.advice}</p>}
      {error.detail && error.detail !== error.title && <p className="error-detail">{error.detail}</p>}
      {loaded && <p className="hint">The previous pack stays loaded.</p>}
    </div>
  );
}

function LoadProgress() {
  const progress = useStudio((s) => s.model.progress);
  const load = useStudio((s) => s.model.load);
  if (!progress) return null;
  const overall = percent(progress.overallDone, progress.overallTotal);
  const cachedFiles = progress.files.filter((f) => f.cached).length;
  return (
    <div className="pack-progress" data-testid="model-progress" data-phase={progress.phase} data-overall-done={progress.overallDone} data-overall-total={progress.overallTotal}>
      <div className="overall">
        <span>
          {load.state === 'loading' ? PHASES[progress.phase] : load.state === 'done' ? 'Loaded' : 'Stopped'}
          {progress.phase !== 'download' && progress.item ? ` ${progress.item}` : ''}
        </span>
        <span className="numbers">
          {formatBytes(progress.overallDone)} / {formatBytes(progress.overallTotal)} ({Math.floor(overall)}%)
          {cachedFiles > 0 && ` · ${cachedFiles} of ${progress.files.length} files cached`}
        </span>
      </div>
      <progress value={progress.overallDone} max={Math.max(progress.overallTotal, 1)} data-testid="model-progress-overall" />
      {progress.files.length > 0 && (
        <ul className="pack-files">
          {progress.files.map((file) => (
            <FileRow key={file.file} file={file} />
          ))}
        </ul>
      )}
    </div>
  );
}

function FileRow({ file }: { file: FileLoadView }) {
  const done = file.bytesDone >= file.bytesTotal;
  return (
    <li data-testid="model-file" data-file={file.file} data-cached={String(file.cached)} data-done={String(done)}>
      <span className="file-name">{file.file}</span>
      <progress value={done ? 1 : file.bytesDone} max={done ? 1 : file.bytesTotal} />
      <span className="numbers">
        {file.cached ? <span className="badge cached">cached</span> : done ? formatBytes(file.bytesTotal) : `${formatBytes(file.bytesDone)} / ${formatBytes(file.bytesTotal)} (${Math.floor(percent(file.bytesDone, file.bytesTotal))}%)`}
      </span>
    </li>
  );
}

function LoadedPack() {
  const loaded = useStudio((s) => s.model.loaded);
  const load = useStudio((s) => s.model.load);
  if (!loaded) return <p className="hint" data-testid="model-none">No model loaded yet.</p>;
  return (
    <div className="pack-summary" data-testid="model-summary" data-pack-id={loaded.id} data-family={loaded.family}>
      <h3>Pack in use</h3>
      <p className="description">{loaded.description}</p>
      <dl>
        <dt>family</dt><dd>{loaded.family}</dd>
        <dt>weights</dt><dd>{loaded.dtype}</dd>
        <dt>size</dt><dd>{formatBytes(loaded.bytes)} in {loaded.files} files ({loaded.downloadedBytes > 0 ? `${formatBytes(loaded.downloadedBytes)} downloaded` : 'all from the cache'})</dd>
        <dt>cross-attention</dt><dd>{loaded.crossAttentionLayers} layers</dd>
        <dt>source</dt><dd>{loaded.source}</dd>
        <dt>pack id</dt><dd title={loaded.id}>{loaded.id.slice(0, 16)}…</dd>
        {load.state === 'done' && (<><dt>load time</dt><dd>{(load.ms / 1000).toFixed(1)} s</dd></>)}
      </dl>
    </div>
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
