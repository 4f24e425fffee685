import { describe, expect, test } from 'vitest';
import { cellKey, gridColumns, gridJobs, gridProgress, gridRows, nextGridJob, settingsKey, type GridCell, type GridEdit } from '../../src/app/comparison-grid.ts';
import { emptyTarget, initialConceptForm, type ConceptForm } from '../../src/app/concept-form.ts';

const form = (patch: Partial<ConceptForm> = {}): ConceptForm => ({
  ...initialConceptForm(),
  targets: [{ ...emptyTarget(), concept: ' cat ', corefs: [{ concept: 'kitten', weight: 1 }, { concept: 'feline', weight: 1 }] }],
  retains: [{ concept: 'tiger', weight: 1 }],
  preserve: [{ concept: 'ship', weight: 1 }, { concept: 'dog', weight: 1 }],
  ...patch,
});

const done = (): GridCell => ({ state: 'done', jobId: 'j', progress: null, image: null, error: null });

describe('grid rows: the prompt set of one erasure', () => {
  test('erased, synonym, kept, unrelated in that order, one per role by default', () => {
    expect(gridRows(form())).toEqual([
      { role: 'erased', concept: 'cat', prompt: 'a photo of the cat' },
      { role: 'synonym', concept: 'kitten', prompt: 'a photo of the kitten' },
      { role: 'kept', concept: 'tiger', prompt: 'a photo of the tiger' },
      { role: 'unrelated', concept: 'ship', prompt: 'a photo of the ship' },
    ]);
    expect(gridRows(form(), 2).map((r) => r.concept)).toEqual(['cat', 'kitten', 'feline', 'tiger', 'ship', 'dog']);
  });

  test('no preserve list: unrelated prompts come from the fallback, minus anything erased or kept', () => {
    const rows = gridRows(form({ preserve: [], retains: [], targets: [{ ...emptyTarget(), concept: 'ship' }] }), 2);
    expect(rows.map((r) => [r.role, r.concept])).toEqual([['erased', 'ship'], ['unrelated', 'airplane'], ['unrelated', 'mountain lake']]);
  });

  test('a blank form has no erased row', () => {
    expect(gridRows(form({ targets: [emptyTarget()] })).some((r) => r.role === 'erased')).toBe(false);
  });
});

describe('grid columns and jobs', () => {
  const edits: GridEdit[] = [
    { editId: 'uce', label: 'UCE · cat', pinned: true },
    { editId: 'realera', label: 'RealEra · cat', pinned: true },
    { editId: 'old', label: 'UCE · dog', pinned: false },
    { editId: 'now', label: 'UCE · cat', pinned: false },
  ];

  test('pinned first, then the current edit, then the one it replaced (outdated, cannot be filled)', () => {
    const columns = gridColumns(edits, 'now', 'old', true);
    expect(columns.map((c) => [c.editId, c.status, c.fillable])).toEqual([
      ['uce', 'pinned', true],
      ['realera', 'pinned', true],
      ['now', 'current', true],
      ['old', 'outdated', false],
    ]);
  });

  test('changed settings mark the current column outdated; a pinned current edit is one column', () => {
    expect(gridColumns(edits, 'now', null, false).find((c) => c.isCurrent)?.status).toBe('outdated');
    const columns = gridColumns(edits, 'realera', 'uce', true);
    expect(columns.map((c) => [c.editId, c.status])).toEqual([['uce', 'pinned'], ['realera', 'current']]);
  });

  test('jobs go row by row, seed by seed, the before image first; the next job skips what exists', () => {
    const rows = gridRows(form()).slice(0, 2);
    const settings = settingsKey({ steps: 2, guidance: 1, scheduler: 'ddim' });
    const columns = gridColumns(edits, 'now', 'old', true);
    const jobs = gridJobs(rows, [1, 2], columns, settings);
    // 2 rows x 2 seeds x (before + 3 fillable columns); the outdated one gets no job.
    expect(jobs).toHaveLength(16);
    expect(jobs.slice(0, 4).map((j) => [j.editId, j.seed, j.row.concept])).toEqual([[null, 1, 'cat'], ['uce', 1, 'cat'], ['realera', 1, 'cat'], ['now', 1, 'cat']]);
    expect(jobs[0].key).toBe(cellKey(null, 'a photo of the cat', 1, settings));
    const cells: Record<string, GridCell> = { [jobs[0].key]: done(), [jobs[1].key]: { ...done(), state: 'error' } };
    expect(nextGridJob(jobs, cells)).toBe(jobs[2]);
    expect(gridProgress(jobs, cells)).toEqual({ done: 1, failed: 1, total: 16 });
    // Other sampling settings are other images.
    expect(settingsKey({ steps: 3, guidance: 1, scheduler: 'ddim' })).not.toBe(settings);
  });
});

describe('concept presets from the concept world', () => {
  test('each object erases with its synonyms and preserves the others; a malformed file gives none', async () => {
    const { presetsFromWorld, withPreset } = await import('../../src/app/concept-presets.ts');
    const world = { objects: [{ name: 'cat', synonyms: ['feline', 'kitty'] }, { name: 'dog', synonyms: ['canine'] }, { name: 'ship' }, { bad: 1 }] };
    const presets = presetsFromWorld(world);
    expect(presets.map((p) => p.concept)).toEqual(['cat', 'dog', 'ship']);
    const next = withPreset({ ...form(), method: 'realera' }, presets[0]);
    expect(next.method).toBe('realera');
    expect(next.targets).toEqual([{ concept: 'cat', weight: 1, anchor: '', corefs: [{ concept: 'feline', weight: 1 }, { concept: 'kitty', weight: 1 }] }]);
    expect(next.preserve.map((c) => c.concept)).toEqual(['dog', 'ship']);
    expect(next.retains).toEqual([]);
    expect(presetsFromWorld(null)).toEqual([]);
    expect(presetsFromWorld({ objects: 'x' })).toEqual([]);
  });
});
