import { useEffect, useState } from 'react';
import type { DemoPreset } from '../../engine/api.ts';
import { formatBytes } from '../../gpu/device.ts';
import { canPickDirectory, loadModelPack, pickModelFolder, takeModelFiles } from '../actions.ts';
import { loadLine, percent, type FileLoadView, type ModelSourceChoice } from '../model-load.ts';
import { useStudio } from '../store.ts';

/**
 * Step 1: which model. Once a model is loaded it is one line, and the source choice folds away
 * behind "change model", so that the concept, Erase and the comparison share the first screen.
 * The pack's files, numbers and the cache are in Diagnostics.
 */
export function ModelPanel() {
  const loading = useStudio((s) => s.model.load.state === 'loading');
  const failed = useStudio((s) => s.model.load.state === 'failed');
  const loadedId = useStudio((s) => s.model.loaded?.id ?? null);
  const loaded = loadedId !== null;
  const [changing, setChanging] = useState(false);
  // A new model in use folds the choice away again.
  useEffect(() => setChanging(false), [loadedId]);
  const chooserOpen = !loaded || loading || failed || changing;
  return (
    <section className="panel model-panel step" data-testid="model-panel" aria-busy={loading}>
      <div className="model-head">
        <h2>
          <span className="step-number">1</span> Model
        </h2>
        <LoadedPack />
        {loaded && !loading && !failed && (
          <button type="button" className="link" onClick={() => setChanging((open) => !open)} aria-expanded={changing} data-testid="model-change">
            {changing ? 'keep this model' : 'change model'}
          </button>
        )}
      </div>
      {chooserOpen && <SourceChoice disabled={loading} />}
      <LoadError />
      <LoadProgress />
    </section>
  );
}

const DEMO_WORDS: Record<string, string> = {
  'concept-world':
    "Lethe's own small text-to-image model (about 16 MiB, shipped with the studio and kept in the browser cache; nothing comes from the network), trained for 2.8 hours on a 2-core CPU on emoji of the 10 CIFAR-10 classes in 4 styles. It draws the classes it is asked for (56-100% of images judged as the class asked for, 87% on average) and the neon and pencil-sketch styles: erase \"cat\" and cats turn into other things.",
  'tiny-sd15':
    'A tiny SD 1.5-shaped model with seeded random weights, made in this tab (nothing is fetched from the network); its 5.5 MiB of files are stored in the browser cache like a download. Its images are noise-like: it shows the workflow, not real erasure.',
  'tiny-sd21': 'A tiny SD 2.1-shaped model with seeded random weights, made in this tab and stored in the browser cache (nothing is fetched from the network). Its images are noise-like: it shows the workflow, not real erasure.',
};

function SourceChoice({ disabled }: { disabled: boolean }) {
  const { choice, demoPreset, hub, folder } = useStudio((s) => s.model);
  const updateModel = useStudio((s) => s.updateModel);
  const choose = (next: ModelSourceChoice) => updateModel({ choice: next });
  const setHub = (field: keyof typeof hub, value: string) => updateModel((m) => ({ hub: { ...m.hub, [field]: value } }));
  return (
    <fieldset className="source-choice" disabled={disabled}>
      <legend>Load a model from</legend>
      <div className="source-row">
        <label className="source-option">
          <input type="radio" name="model-source" checked={choice === 'demo'} onChange={() => choose('demo')} data-testid="model-source-demo" />
          built-in demo
          <select value={demoPreset} onChange={(e) => updateModel({ choice: 'demo', demoPreset: e.target.value as DemoPreset })} data-testid="demo-preset" aria-label="demo pack">
            <option value="concept-world">concept world (trained: 10 objects, 4 styles)</option>
            <option value="tiny-sd15">tiny SD 1.5-shaped</option>
            <option value="tiny-sd21">tiny SD 2.1-shaped</option>
          </select>
        </label>
        <label className="source-option">
          <input type="radio" name="model-source" checked={choice === 'hub'} onChange={() => choose('hub')} data-testid="model-source-hub" />
          Hugging Face hub
        </label>
        <label className="source-option">
          <input type="radio" name="model-source" checked={choice === 'folder'} onChange={() => choose('folder')} data-testid="model-source-folder" />
          local folder
        </label>
        <button type="button" className="small" onClick={() => void loadModelPack()} disabled={disabled} data-testid="model-load">
          {disabled ? 'Loading…' : 'Load'}
        </button>
      </div>
      {choice === 'demo' && (
        <p className="hint" data-testid="demo-explanation">
          {DEMO_WORDS[demoPreset] ?? 'A built-in demo model, made in this tab and stored in the browser cache.'}
        </p>
      )}
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
          <p className="hint">A Lethe pack or a diffusers repo (SD 1.x/2.x). Files are verified and cached in this browser.</p>
        </div>
      )}
      {choice === 'folder' && (
        <div className="folder-fields">
          {canPickDirectory() && (
            <button type="button" className="secondary small" onClick={() => void pickModelFolder()} data-testid="folder-pick">
              Choose folder…
            </button>
          )}
          <label className="folder-input">
            {canPickDirectory() ? 'or select it here:' : 'folder:'}
            <input type="file" multiple ref={(input) => input?.setAttribute('webkitdirectory', '')} onChange={(e) => takeModelFiles(e.target.files)} data-testid="folder-input" />
          </label>
          <span className="picked" data-testid="folder-picked">
            {folder ? `${folder.name}${folder.kind === 'files' ? ` (${folder.files.length} files)` : ''}` : 'no folder chosen'}
          </span>
          <p className="hint">The pack folder (with manifest.json) or a diffusers folder.</p>
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
      {error.detail && error.detail !== error.title && (
        <details>
          <summary>technical detail</summary>
          <p className="error-detail">{error.detail}</p>
        </details>
      )}
      {loaded && <p className="hint">The previous model stays loaded.</p>}
    </div>
  );
}

function LoadProgress() {
  const progress = useStudio((s) => s.model.progress);
  const load = useStudio((s) => s.model.load);
  const choice = useStudio((s) => s.model.choice);
  if (!progress || load.state === 'idle') return null;
  // A finished load needs no bar: the model line above says what is in use.
  if (load.state === 'done') return null;
  const line = loadLine(progress, load.state === 'loading' ? 'loading' : 'failed', choice);
  return (
    <div className="pack-progress" data-testid="model-progress" data-phase={progress.phase} data-overall-done={progress.overallDone} data-overall-total={progress.overallTotal}>
      <div className="overall">
        <span data-testid="model-progress-text">{line.text}</span>
        <span className="numbers">{line.numbers}</span>
      </div>
      {/* No value: an indeterminate bar, for a size not known yet. */}
      {line.fraction === null ? <progress data-testid="model-progress-overall" /> : <progress value={line.fraction} max={1} data-testid="model-progress-overall" />}
    </div>
  );
}

/** Every file of the current or last load, for the diagnostics drawer. */
export function PackFiles() {
  const progress = useStudio((s) => s.model.progress);
  if (!progress || progress.files.length === 0) return null;
  const cachedFiles = progress.files.filter((f) => f.cached).length;
  return (
    <details className="pack-files-details">
      <summary>
        {progress.files.length} files{cachedFiles > 0 ? `, ${cachedFiles} from the cache` : ''}
      </summary>
      <ul className="pack-files">
        {progress.files.map((file) => (
          <FileRow key={file.file} file={file} />
        ))}
      </ul>
    </details>
  );
}

function FileRow({ file }: { file: FileLoadView }) {
  const done = file.bytesDone >= file.bytesTotal;
  return (
    <li data-testid="model-file" data-file={file.file} data-cached={String(file.cached)} data-done={String(done)}>
      <span className="file-name">{file.file}</span>
      <progress value={done ? 1 : file.bytesDone} max={done ? 1 : Math.max(file.bytesTotal, 1)} />
      <span className="numbers">
        {file.cached ? <span className="badge cached">cached</span> : done ? formatBytes(file.bytesTotal) : `${formatBytes(file.bytesDone)} / ${formatBytes(file.bytesTotal)} (${Math.floor(percent(file.bytesDone, file.bytesTotal))}%)`}
      </span>
    </li>
  );
}

function LoadedPack() {
  const loaded = useStudio((s) => s.model.loaded);
  const setOpen = useStudio((s) => s.setDiagnosticsOpen);
  if (!loaded) return <p className="hint" data-testid="model-none">No model loaded yet.</p>;
  return (
    <>
      <p className="pack-line" data-testid="model-summary" data-pack-id={loaded.id} data-family={loaded.family}>
        <strong>{loaded.source}</strong> · {loaded.family} · {loaded.dtype} · {formatBytes(loaded.bytes)}{' '}
        <button type="button" className="link" onClick={() => setOpen(true)}>
          details
        </button>
      </p>
      {/* The fit check's notes: the pack runs here, but not at every size (its native one may need a buffer over this GPU's limit). */}
      {loaded.fitNotes?.map((note) => (
        <p key={note} className="hint" data-testid="model-fit-note">
          {note}
        </p>
      ))}
    </>
  );
}
