import { describe, expect, test } from 'vitest';
import type { GenerateProgressEvent } from '../../src/engine/api.ts';
import { describeEngineError } from '../../src/app/engine-error-advice.ts';
import { initialGenerateForm, pairSettingsFor, randomSeed } from '../../src/app/generate-form.ts';
import { loraExportOptions, parseLoraRank, initialLoraForm } from '../../src/app/lora-form.ts';
import { idleSlot, initialGenerationState, MAX_PAIRS, pendingJobs, shownPair, slotProgress, withNewPair, withSlot, type ImagePair } from '../../src/app/studio-state.ts';
import { testHooksEnabled } from '../../src/app/test-hooks.ts';
import { FormatError, InputError } from '../../src/util/errors.ts';

const settings = { prompt: 'a cat', seed: 1, steps: 4, guidance: 7.5, scheduler: 'ddim' as const };
const pair = (id: number): ImagePair => ({ id, settings, original: idleSlot(), edited: idleSlot() });
const event = (jobId: string, step: number): GenerateProgressEvent => ({ jobId, phase: 'denoise', step, steps: 4 });

describe('generation slice', () => {
  test('new pairs are shown, and the history keeps the newest MAX_PAIRS', () => {
    let state = initialGenerationState();
    for (let id = 1; id <= MAX_PAIRS + 3; id++) state = { ...state, ...withNewPair(state, pair(id)) };
    expect(state.pairs.map((p) => p.id)).toEqual(Array.from({ length: MAX_PAIRS }, (_, i) => i + 4));
    expect(shownPair(state)?.id).toBe(MAX_PAIRS + 3);
  });

  test('progress counts only for the running job that owns the slot, so a stopped bar stays put', () => {
    let state = { ...initialGenerationState(), pairs: [pair(1)] };
    state = { ...state, ...withSlot(state, 1, 'original', { state: 'running', jobId: 'j1' }) };
    state = { ...state, ...withSlot(state, 1, 'original', (slot) => slotProgress(slot, event('j1', 2))) };
    expect(state.pairs[0].original.progress?.step).toBe(2);
    expect(withSlot(state, 1, 'original', (slot) => slotProgress(slot, event('other', 3)))).toEqual({});
    state = { ...state, ...withSlot(state, 1, 'original', { state: 'cancelled' }) };
    expect(withSlot(state, 1, 'original', (slot) => slotProgress(slot, event('j1', 3)))).toEqual({});
    expect(state.pairs[0].original.progress?.step).toBe(2);
    expect(state.pairs[0].edited).toEqual(idleSlot());
  });

  test('pending jobs are the running and queued slots of every pair', () => {
    const state = { ...initialGenerationState(), pairs: [{ ...pair(1), original: { ...idleSlot(), state: 'done' as const } }, { ...pair(2), original: { ...idleSlot(), state: 'running' as const, jobId: 'a' }, edited: { ...idleSlot(), state: 'queued' as const } }] };
    expect(pendingJobs(state).map((j) => `${j.pairId}:${j.variant}:${j.slot.state}`)).toEqual(['2:original:running', '2:edited:queued']);
  });
});

describe('generation and LoRA forms', () => {
  test('the form makes one settings object for both images; native size leaves width/height to the engine', () => {
    const form = initialGenerateForm();
    const s = pairSettingsFor({ ...form, negativePrompt: '  ' });
    expect(s).toEqual({ prompt: form.prompt, seed: form.seed, steps: form.steps, guidance: form.guidance, scheduler: form.scheduler });
    expect(pairSettingsFor({ ...form, size: 512, negativePrompt: 'blurry' })).toMatchObject({ width: 512, height: 512, negativePrompt: 'blurry' });
    expect(() => pairSettingsFor({ ...form, seed: -1 })).toThrow(/Seed/);
    expect(() => pairSettingsFor({ ...form, seed: 2 ** 32 })).toThrow(/Seed/);
    expect(() => pairSettingsFor({ ...form, steps: Number.NaN })).toThrow('Steps must be a whole number in 1..200; it is empty.');
    expect(() => pairSettingsFor({ ...form, steps: 0 })).toThrow('Steps must be a whole number in 1..200, got 0.');
    expect(() => pairSettingsFor({ ...form, size: 100 })).toThrow(/multiple of 8/);
  });

  test('dice seeds are uint32 over the whole range', () => {
    expect(randomSeed(() => 0)).toBe(0);
    expect(randomSeed(() => 0.999999999999)).toBe(4294967295);
    expect(randomSeed(() => 0.5)).toBe(2147483648);
  });

  test('LoRA rank: "exact" (or blank) or a whole number', () => {
    expect(parseLoraRank(' Exact ')).toBe('exact');
    expect(parseLoraRank('')).toBe('exact');
    expect(parseLoraRank('8')).toBe(8);
    for (const bad of ['0', '-2', '2.5', 'eight', '1e3']) expect(() => parseLoraRank(bad)).toThrow(InputError);
    expect(loraExportOptions(initialLoraForm())).toEqual({ convention: 'kohya', rank: 'exact', dtype: 'fp16' });
  });
});

describe('engine error advice', () => {
  // What comlink delivers: a plain Error carrying the original name and message.
  const remote = (name: string, message: string) => Object.assign(new Error(message), { name });

  test('each kind of failure gets its own advice, and the raw message is kept', () => {
    const lambda = describeEngineError(remote('InputError', 'closed form: lambda: with lambda 0 the system is too ill-conditioned for an accurate solve'), 'erase');
    expect(lambda.advice).toMatch(/Raise lambda/);
    expect(lambda.detail).toMatch(/lambda 0/);
    expect(describeEngineError(remote('NonFiniteError', 'noise prediction at step index 3 has NaN'), 'generate').advice).toMatch(/guidance/);
    const refused = describeEngineError(
      remote('PackDoesNotFitError', 'Generating at 1024x1024 does not fit here (nothing was run). The largest GPU buffer this pack needs at 1024x1024 is 8 GiB; this adapter\'s maxBufferSize is 1 GiB. What to do: Generate at 704x704 or smaller (1024x1024 needs the buffer above).'),
      'generate',
    );
    expect(refused.title).toBe('The image could not be generated. This model does not fit this GPU at that size; nothing was run.');
    expect(refused.advice).toBe('Generate at 704x704 or smaller (1024x1024 needs the buffer above).');
    const oom = describeEngineError(remote('GpuOutOfMemoryError', 'Generating at 512x512 ran out of GPU memory: vkAllocateMemory failed. What to do: generate at 256x256'), 'generate');
    expect(oom.title).toBe('The image could not be generated. The GPU ran out of memory.');
    expect(oom.detail).toMatch(/generate at 256x256/);
    expect(describeEngineError(remote('Error', 'no pack loaded'), 'generate').advice).toMatch(/Model panel/);
    expect(describeEngineError(new FormatError('recipe.json', '(root)', 'not JSON: Unexpected token'), 'recipe').title).toMatch(/not a Lethe erasure recipe/);
    expect(describeEngineError(remote('FormatError', 'x.safetensors: header: length 9 exceeds the file'), 'lora-import').advice).toMatch(/safetensors/);
    // A LoRA for another base model: its file name says ".safetensors", yet it is no format error.
    const mismatch = describeEngineError(remote('InputError', "sd21-lora.safetensors: lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight: the LoRA's projections take text embeddings 1024 (SD 2.x) wide, tiny-sd15's take 768 (SD 1.x); it was made for a different base model"), 'lora-import');
    expect(mismatch.title).toBe('The LoRA was made for a different base model.');
    expect(mismatch.detail).toMatch(/1024 \(SD 2\.x\) wide/);
    // Said once, with the field in words: the advice is the message, there is no raw repeat.
    expect(describeEngineError(remote('InputError', 'concepts: targets[0].weight: expected a finite number > 0'), 'erase')).toEqual({ title: 'The edit could not be computed.', advice: 'The weight of target 1: expected a number above 0', detail: '' });
    expect(describeEngineError('weird', 'measure')).toEqual({ title: 'The edit could not be measured.', detail: 'weird', advice: expect.stringMatching(/Try again/) });
  });
});

test('window.__lethe: on outside production builds, and in production only with ?testing', () => {
  expect(testHooksEnabled('development', '')).toBe(true);
  expect(testHooksEnabled('test', '')).toBe(true);
  expect(testHooksEnabled('production', '')).toBe(false);
  expect(testHooksEnabled('production', '?testing')).toBe(true);
  expect(testHooksEnabled('production', '?a=1&testing=1')).toBe(true);
  expect(testHooksEnabled('production', '?test')).toBe(false);
});
