/**
 * Engine.train on the demo tiny-sd15 pack (Node engine, ORT text encoder, WGSL training): RealEra
 * noise alignment on top of its closed-form edit, paused after step 1 (no step runs while paused)
 * and resumed; the result is the current edit, and its exported LoRA re-imports to the same
 * after-image pixel for pixel; the "after" preview sent with each step's progress is, after the
 * last step, that same image. A run cancelled while paused never takes its next step.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { GenerateParams, TrainProgressEvent } from '../../../src/engine/api.ts';
import { createNodeEngine } from '../../../src/engine/node-engine.ts';
import { fineTuneDefaults } from '../../../src/erasure/fine-tune/fine-tune-options.ts';
import { MemoryCheckpointStore } from '../../../src/erasure/fine-tune/checkpoint-store.ts';
import { parseRecipe, serializeRecipe } from '../../../src/erasure/recipe.ts';
import { NodeDirBlobCache } from '../../../src/model/cache/node-dir.ts';

const engine = await createNodeEngine({ cache: new NodeDirBlobCache(mkdtempSync(join(tmpdir(), 'lethe-train-engine-'))) });
afterAll(() => engine.dispose());

const params = (variant: GenerateParams['variant']): GenerateParams => ({ jobId: crypto.randomUUID(), prompt: 'a photo of a cat', seed: 3, steps: 2, guidance: 7.5, scheduler: 'ddim', variant });

describe('Engine.train (demo tiny-sd15)', () => {
  test('RealEra alignment: pause holds the run, resume finishes it; the exported LoRA re-imports to the same after-image', async () => {
    await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
    const store = new MemoryCheckpointStore();
    engine.useCheckpointStore(store);
    const edit = await engine.erase({ concepts: { kind: 'object', targets: [{ concept: 'cat', anchor: 'animal' }], preserve: [{ concept: 'dog' }] }, method: 'realera', tokens: 'subject', realera: { seed: 1 } });
    const recipe = serializeRecipe({ ...parseRecipe(edit.recipe, 'edit'), fineTune: { ...fineTuneDefaults('realera', 8), steps: 2, latentSteps: 1, rank: 2, alpha: 2, learningRate: 1e-3, seed: 4 } });
    const events: { at: number; event: TrainProgressEvent }[] = [];
    let resumedAt = 0;
    const { jobId: _, variant: __, ...previewSettings } = params('edited');
    const summary = await engine.train({ jobId: 'run-1', recipe, checkpointEvery: 1, preview: { every: 1, ...previewSettings } }, (event) => {
      events.push({ at: performance.now(), event });
      if (event.step === 1) {
        void engine.pauseTraining('run-1');
        setTimeout(() => {
          resumedAt = performance.now();
          void engine.resumeTraining('run-1');
        }, 1500);
      }
    });
    expect(events.map((e) => e.event.step)).toEqual([1, 2]);
    // Step 2 began only after the resume.
    expect(events[1].at).toBeGreaterThan(resumedAt);
    expect(resumedAt).toBeGreaterThan(0);
    expect(summary.steps).toBe(2);
    expect(summary.rank).toBe(edit.rank + 2);
    expect(summary.losses.map((l) => l.loss)).toEqual(events.map((e) => e.event.loss));
    expect(Object.keys(summary.losses[0].groups)).toEqual(['erase']);
    expect(Object.keys(summary.losses[1].groups).sort()).toEqual(['beyond', 'neighbor']);
    const saved = await engine.savedTraining(recipe);
    expect(saved).toMatchObject({ step: 2, steps: 2 });

    const trained = await engine.generate(params('edited'));
    expect(trained.editId).toBe(summary.editId);
    // The refreshed "after" image: one per step; the last is the finished edit's own image, and
    // the first (one Adam step earlier) is another.
    expect(events.map((e) => e.event.preview?.step)).toEqual([1, 2]);
    const lastPreview = events[1].event.preview!;
    expect(lastPreview).toMatchObject({ width: trained.width, height: trained.height, seed: 3, prompt: 'a photo of a cat' });
    expect(Buffer.from(lastPreview.rgba).equals(Buffer.from(trained.rgba))).toBe(true);
    expect(Buffer.from(events[0].event.preview!.rgba).equals(Buffer.from(lastPreview.rgba))).toBe(false);
    const file = await engine.exportLora({ convention: 'kohya', rank: 'exact', dtype: 'fp32' });
    expect(file.rank).toBe(edit.rank + 2);
    await engine.clearEdit();
    const imported = await engine.importLora(file.bytes, file.fileName, 1);
    expect(imported.notApplied).toEqual([]);
    const again = await engine.generate(params('edited'));
    expect(again.editId).toBe(imported.editId);
    expect(Buffer.from(again.rgba).equals(Buffer.from(trained.rgba))).toBe(true);
  }, 600_000);

  test('a paused run holds before its next step: cancelled while paused, it never runs step 2', async () => {
    const edit = await engine.erase({ concepts: { kind: 'object', targets: [{ concept: 'cat' }] }, method: 'uce', tokens: 'subject' });
    const recipe = serializeRecipe({ ...parseRecipe(edit.recipe, 'edit'), fineTune: { ...fineTuneDefaults('esd-x', 8), steps: 2, latentSteps: 1, rank: 2, alpha: 2, learningRate: 1e-3 } });
    const steps: number[] = [];
    // Without the pause, step 2 would run (seconds on SwiftShader) and the run would finish.
    const run = engine.train({ jobId: 'run-2', recipe, checkpointEvery: 0 }, (event) => {
      steps.push(event.step);
      if (event.step === 1) {
        void engine.pauseTraining('run-2');
        setTimeout(() => void engine.cancel('run-2'), 300);
      }
    });
    await expect(run).rejects.toThrow(/cancelled/);
    expect(steps).toEqual([1]);
  }, 600_000);
});
