import { useStudio } from '../store.ts';
import { activeEditId } from '../studio-state.ts';
import { forgetHistory, restoreHistoryItem } from '../workbench-actions.ts';
import { useEngineReady } from './common.tsx';

/** Every edit made in this browser, newest first; one click makes it current again. */
export function HistoryPanel() {
  const ready = useEngineReady();
  const history = useStudio((s) => s.history);
  const busy = useStudio((s) => s.edit.busy);
  const currentId = useStudio((s) => activeEditId(s.edit.active));
  const packId = useStudio((s) => s.model.loaded?.id ?? null);
  return (
    <section className="panel history-panel" data-testid="edit-history" data-count={history.length}>
      <h2>Edit history</h2>
      {history.length === 0 ? (
        <p className="hint">Every edit you make is listed here (and kept after a reload); click one to make it current again.</p>
      ) : (
        <ol className="history-list">
          {history.map((item) => {
            const otherPack = item.packId !== null && packId !== null && item.packId !== packId;
            return (
              <li key={item.id} data-testid="history-entry" data-edit-id={item.id} data-current={String(item.id === currentId)}>
                <button type="button" className="secondary small" disabled={!ready || busy || item.id === currentId || otherPack} onClick={() => void restoreHistoryItem(item)} data-testid="history-restore" title={otherPack ? 'made for another model: load that model first' : 'make this the current edit'}>
                  {item.id === currentId ? 'current' : 'restore'}
                </button>
                <span className="history-label">{item.label}</span>
                <span className="history-words">{item.words}</span>
                <span className="numbers">
                  {item.id.slice(0, 8)} · {new Date(item.at).toLocaleTimeString()}
                  {otherPack ? ' · other model' : ''}
                </span>
              </li>
            );
          })}
        </ol>
      )}
      {history.length > 0 && (
        <button type="button" className="link" onClick={forgetHistory} data-testid="history-forget">
          forget the history
        </button>
      )}
    </section>
  );
}
