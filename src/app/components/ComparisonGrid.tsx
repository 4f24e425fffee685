import { ROLE_WORDS, cellKey, gridProgress, settingsKey, type GridCell, type GridColumn, type GridRow } from '../comparison-grid.ts';
import { dismissColumn, fillGrid, MAX_PINNED, openViewer, pinCurrentEdit, retryGrid, stopGrid, takeGridPrompts, unpinEdit } from '../grid-actions.ts';
import { useStudio } from '../store.ts';
import { activeEditId } from '../studio-state.ts';
import { estimateImageMs, formatDuration } from '../time-estimate.ts';
import { currentGridColumns, currentGridJobs } from '../workbench-state.ts';
import { useEngineReady } from './common.tsx';
import { ImageCanvas } from './ImageCanvas.tsx';

const STATUS_WORDS = { current: 'current', pinned: 'pinned', outdated: 'outdated' } as const;

/**
 * Step 4: one erasure across a prompt set. Rows are prompts (erased, synonym, kept, unrelated),
 * columns are edits (pinned ones side by side) and seeds; each cell is the before image above
 * the after image with the same seed. Click a cell for the slider and difference view.
 */
export function ComparisonGrid() {
  const ready = useEngineReady();
  const grid = useStudio((s) => s.grid);
  const edit = useStudio((s) => s.edit);
  const form = useStudio((s) => s.concept.form);
  const timings = useStudio((s) => s.timings.images);
  const columns = currentGridColumns(grid, edit, form);
  const jobs = currentGridJobs(grid, edit, form);
  const progress = gridProgress(jobs, grid.cells);
  const settings = grid.settings ? settingsKey(grid.settings) : '';
  const remaining = progress.total - progress.done - progress.failed;
  const perImage = grid.settings ? estimateImageMs(timings, grid.settings.steps) : null;
  const activeId = activeEditId(edit.active);
  const pinnedCount = grid.edits.filter((e) => e.pinned).length;
  const currentPinned = columns.some((c) => c.isCurrent && c.pinned);
  return (
    <section className="panel comparison step" data-testid="comparison" data-running={String(grid.running)} data-done={progress.done} data-total={progress.total}>
      <h2>
        <span className="step-number">4</span> Compare before and after
      </h2>
      <div className="button-row grid-controls">
        <button type="button" className="secondary small" onClick={() => takeGridPrompts() && fillGrid()} disabled={!ready} data-testid="grid-take-prompts" title="Rebuild the rows from the concept form (erased, synonyms, kept, unrelated) with the sampling settings below">
          {grid.rows.length === 0 ? 'Show the prompt set' : 'Update prompts'}
        </button>
        <label className="inline small-field">
          seeds
          <select value={grid.seeds.length} onChange={(e) => useStudio.getState().updateGrid({ seeds: Array.from({ length: Number(e.target.value) }, (_, i) => i + 1) })} data-testid="grid-seeds">
            {[1, 2, 3, 4].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label className="inline small-field">
          rows per kind
          <select value={grid.perRole} onChange={(e) => useStudio.getState().updateGrid({ perRole: Number(e.target.value) })} data-testid="grid-per-role">
            {[1, 2, 3].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="small" onClick={() => void pinCurrentEdit()} disabled={!ready || activeId === null || currentPinned || pinnedCount >= MAX_PINNED} data-testid="pin-edit" title="Keep this edit as a column, then erase with another method: both fill with the same seeds">
          {currentPinned ? 'Pinned' : 'Pin this edit'}
        </button>
        {grid.running ? (
          <button type="button" className="secondary small" onClick={() => void stopGrid()} data-testid="grid-stop">
            Stop
          </button>
        ) : (
          progress.total > 0 &&
          progress.done < progress.total && (
            <button type="button" className="secondary small" onClick={retryGrid} disabled={!ready} data-testid="grid-fill">
              Fill
            </button>
          )
        )}
      </div>
      <GridStatus done={progress.done} failed={progress.failed} total={progress.total} running={grid.running} remainingMs={perImage === null ? null : perImage * remaining} />
      {grid.rows.length === 0 ? (
        <p className="hint grid-empty" data-testid="grid-empty">
          After you press Erase, this fills with the erased concept, its synonyms, related concepts that should stay and unrelated ones, before above after, for {grid.seeds.length} seeds.
        </p>
      ) : (
        <div className="grid-scroll">
          <table className="comparison-grid" data-testid="comparison-grid">
            <thead>
              <tr>
                <th rowSpan={2}>prompt</th>
                {columns.length === 0 ? (
                  <th colSpan={grid.seeds.length}>no edit yet: before images only</th>
                ) : (
                  columns.map((column) => <ColumnHead key={column.editId} column={column} seeds={grid.seeds.length} />)
                )}
              </tr>
              <tr>
                {(columns.length === 0 ? [null] : columns).flatMap((column) =>
                  grid.seeds.map((seed) => (
                    <th key={`${column?.editId ?? 'none'}-${seed}`} className="seed-head">
                      seed {seed}
                    </th>
                  )),
                )}
              </tr>
            </thead>
            <tbody>
              {grid.rows.map((row) => (
                <tr key={row.prompt} data-testid="grid-row" data-role={row.role}>
                  <th className={`row-head role-${row.role}`}>
                    <span className="row-prompt">{row.prompt}</span>
                    <span className="row-role">{ROLE_WORDS[row.role]}</span>
                  </th>
                  {columns.length === 0
                    ? grid.seeds.map((seed) => <GridCellView key={seed} row={row} seed={seed} column={null} settings={settings} />)
                    : columns.flatMap((column) => grid.seeds.map((seed) => <GridCellView key={`${column.editId}-${seed}`} row={row} seed={seed} column={column} settings={settings} />))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function GridStatus({ done, failed, total, running, remainingMs }: { done: number; failed: number; total: number; running: boolean; remainingMs: number | null }) {
  if (total === 0) return null;
  const left = total - done - failed;
  return (
    <div className="grid-status" data-testid="grid-status">
      <progress value={done} max={total} />
      <span className="numbers">
        {done} of {total} images{failed > 0 ? ` · ${failed} failed (Fill retries them)` : ''}
        {running && left > 0 && ` · ${remainingMs === null ? 'timing the first image…' : `${formatDuration(remainingMs)} left`}`}
        {!running && left > 0 && ' · stopped'}
      </span>
    </div>
  );
}

function ColumnHead({ column, seeds }: { column: GridColumn; seeds: number }) {
  return (
    <th colSpan={seeds} className={`column-head status-${column.status}`} data-testid="grid-column" data-edit-id={column.editId} data-status={column.status} data-pinned={String(column.pinned)}>
      <span className="column-label">{column.label}</span>
      <span className={`badge status-${column.status}`} data-testid="column-status">
        {STATUS_WORDS[column.status]}
        {column.isCurrent && column.pinned ? ', pinned' : ''}
      </span>
      <span className="column-id" title={column.editId}>
        {column.editId.slice(0, 8)}
      </span>
      {column.pinned && (
        <button type="button" className="link" onClick={() => void unpinEdit(column.editId)} data-testid="unpin">
          unpin
        </button>
      )}
      {!column.pinned && !column.isCurrent && (
        <button type="button" className="link" onClick={() => dismissColumn(column.editId)} data-testid="dismiss-column">
          remove
        </button>
      )}
      {column.status === 'outdated' && <span className="outdated-why">{column.isCurrent ? 'settings changed since this edit' : 'an earlier edit (pin edits to keep them)'}</span>}
    </th>
  );
}

function GridCellView({ row, seed, column, settings }: { row: GridRow; seed: number; column: GridColumn | null; settings: string }) {
  const before = useStudio((s) => s.grid.cells[cellKey(null, row.prompt, seed, settings)] ?? null);
  const after = useStudio((s) => (column ? (s.grid.cells[cellKey(column.editId, row.prompt, seed, settings)] ?? null) : null));
  const clickable = column !== null && before?.image && after?.image;
  return (
    <td className={`grid-cell${column?.status === 'outdated' ? ' outdated' : ''}`} data-testid="grid-cell" data-edit-id={column?.editId ?? ''} data-seed={seed} data-prompt={row.prompt} data-state={after?.state ?? (column ? 'empty' : (before?.state ?? 'empty'))} data-outdated={String(column?.status === 'outdated')}>
      <button
        type="button"
        className="cell-button"
        disabled={!clickable}
        onClick={() => column && openViewer(row.prompt, seed, column.editId)}
        aria-label={`${row.prompt}, seed ${seed}${column ? `, ${column.label}` : ''}: open the before/after view`}
        data-testid="grid-cell-open"
      >
        <CellImage cell={before} label="before" />
        {column && <CellImage cell={after} label="after" />}
      </button>
    </td>
  );
}

function CellImage({ cell, label }: { cell: GridCell | null; label: string }) {
  const state = cell?.state ?? 'empty';
  const step = cell?.progress?.phase === 'denoise' ? `${cell.progress.step}/${cell.progress.steps}` : cell?.progress?.phase ?? '';
  return (
    <span className={`cell-image ${label}`} data-state={state} title={cell?.error ? `${cell.error.title} ${cell.error.advice}` : label}>
      <ImageCanvas image={cell?.image ?? null} className="pixelated" label={`${label} image`} />
      {state !== 'done' && <span className="cell-overlay">{state === 'running' ? step || '…' : state === 'empty' ? '' : state === 'error' ? 'failed' : state}</span>}
    </span>
  );
}
