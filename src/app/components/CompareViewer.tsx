import { useEffect, useMemo, useState } from 'react';
import { cellKey, settingsKey } from '../comparison-grid.ts';
import { closeViewer } from '../grid-actions.ts';
import { compareRgba, describeDifference, differenceHeatmap } from '../image-compare.ts';
import { useStudio } from '../store.ts';
import { ImageCanvas } from './ImageCanvas.tsx';

/** The large view of one grid cell: a before/after slider and a difference heatmap. */
export function CompareViewer() {
  const viewer = useStudio((s) => s.grid.viewer);
  const settings = useStudio((s) => (s.grid.settings ? settingsKey(s.grid.settings) : ''));
  const before = useStudio((s) => (viewer ? (s.grid.cells[cellKey(null, viewer.prompt, viewer.seed, settings)]?.image ?? null) : null));
  const after = useStudio((s) => (viewer ? (s.grid.cells[cellKey(viewer.editId, viewer.prompt, viewer.seed, settings)]?.image ?? null) : null));
  const label = useStudio((s) => s.grid.edits.find((e) => e.editId === viewer?.editId)?.label ?? '');
  const [split, setSplit] = useState(50);
  useEffect(() => {
    if (!viewer) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') closeViewer();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [viewer]);
  const heat = useMemo(() => (before && after && before.rgba.length === after.rgba.length ? differenceHeatmap(before.rgba, after.rgba) : null), [before, after]);
  const diff = useMemo(() => (before && after && before.rgba.length === after.rgba.length ? compareRgba(before.rgba, after.rgba) : null), [before, after]);
  if (!viewer || !before || !after) return null;
  const heatImage = heat ? { ...after, rgba: heat.rgba } : null;
  return (
    <div className="viewer-backdrop" onClick={closeViewer}>
      <div className="viewer" role="dialog" aria-label="before and after" data-testid="compare-viewer" onClick={(e) => e.stopPropagation()}>
        <div className="viewer-head">
          <span>
            <strong>{viewer.prompt}</strong> · seed {viewer.seed} · {label}
          </span>
          <button type="button" className="secondary small" onClick={closeViewer} data-testid="viewer-close">
            Close
          </button>
        </div>
        <div className="viewer-body">
          <figure className="slider-view">
            <div className="slider-stack" style={{ ['--split' as string]: `${split}%` }}>
              <ImageCanvas image={after} className="pixelated layer" label="after" />
              <div className="before-clip">
                <ImageCanvas image={before} className="pixelated layer" label="before" />
              </div>
              <span className="split-line" />
            </div>
            <input type="range" min={0} max={100} step={1} value={split} onChange={(e) => setSplit(Number(e.target.value))} aria-label="before/after split" data-testid="viewer-slider" />
            <figcaption>
              before on the left of the line, after on the right ({split}% before)
            </figcaption>
          </figure>
          <figure className="heat-view">
            <ImageCanvas image={heatImage} className="pixelated layer" label="difference heatmap" testId="viewer-heatmap" />
            <figcaption data-testid="viewer-difference">
              {diff ? describeDifference(diff) : ''}
              {heat && heat.maxMeanDiff > 0 ? `; white = the largest difference (${heat.maxMeanDiff.toFixed(1)} of 255)` : ''}
            </figcaption>
          </figure>
        </div>
      </div>
    </div>
  );
}
