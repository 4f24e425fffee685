import { describe, expect, test } from 'vitest';
import {
  applyGuidance,
  generate,
  NonFiniteError,
  pixelMultiple,
  validateGenerateRequest,
  type GenerateProgress,
  type GenerateRequest,
  type LatentShape,
} from '../../src/pipeline/generate.ts';
import { encodePng } from '../../src/pipeline/image/png-encode.ts';
import { initialLatents, samplerStepNoise } from '../../src/pipeline/noise.ts';
import { createScheduler } from '../../src/pipeline/schedulers/create-scheduler.ts';
import { InputError, ShapeError } from '../../src/util/errors.ts';
import { FakeConditioner, FakeDecoder, FunctionPredictor, perfectPredictor, SD_SPACE } from './generate-fakes.ts';
import { maxAbsDiff, maxScaledDiff, randomArray, referenceAlphasCumprod, SD15_CONFIG, SD21_CONFIG } from './scheduler-reference.ts';

// 64 x 128 pixels -> latents [1, 4, 16, 8]: small, and not square, so h and w cannot swap unnoticed.
const WIDTH = 64;
const HEIGHT = 128;
const SHAPE: LatentShape = [1, 4, 16, 8];
const SIZE = 4 * 16 * 8;

const request = (overrides: Partial<GenerateRequest> = {}): GenerateRequest => ({
  prompt: 'a photo of a cat',
  negativePrompt: 'blurry',
  seed: 42,
  steps: 6,
  guidance: 7.5,
  scheduler: 'ddim',
  width: WIDTH,
  height: HEIGHT,
  variant: 'original',
  ...overrides,
});

function model(predictor: FunctionPredictor, config: unknown = SD15_CONFIG, decoder = new FakeDecoder()) {
  return { latentSpace: SD_SPACE, schedulerConfig: config, conditioner: new FakeConditioner(), predictor, decoder };
}

const alphas = referenceAlphasCumprod('scaled_linear', 0.00085, 0.012, 1000);
const x0 = Float64Array.from(randomArray(7, SIZE));

describe('generate with a perfect noise predictor converges to its x0', () => {
  test.each([
    ['ddim', 'epsilon', { ...SD15_CONFIG, set_alpha_to_one: true }],
    ['ddim', 'v_prediction', { ...SD21_CONFIG, set_alpha_to_one: true }],
    ['dpmpp_2m', 'epsilon', SD15_CONFIG],
    ['dpmpp_2m', 'v_prediction', SD21_CONFIG],
    ['euler_a', 'epsilon', SD15_CONFIG],
  ] as const)('%s (%s)', async (scheduler, prediction, config) => {
    const m = model(perfectPredictor(x0, prediction), config);
    const result = await generate(request({ scheduler, steps: 8 }), m);
    expect(result.latentShape).toEqual(SHAPE);
    expect(maxAbsDiff(result.latents, x0)).toBeLessThan(2e-5);
    // The decoder got the final latents divided by the scaling factor, in [1, 4, h, w].
    expect(m.decoder.calls).toHaveLength(1);
    expect(m.decoder.calls[0].shape).toEqual(SHAPE);
    expect(m.decoder.calls[0].latents).toEqual(result.latents.map((v) => v / 0.18215));
    expect(result.image.width).toBe(WIDTH);
    expect(result.image.height).toBe(HEIGHT);
  });

  test('DDIM ending at alphas_cumprod[0] (set_alpha_to_one false) lands on sqrt(a0) x0 + sqrt(1 - a0) eps_T', async () => {
    const result = await generate(request({ steps: 8 }), model(perfectPredictor(x0)));
    // Deterministic DDIM keeps the noise eps_T that the starting latents x_T carry relative to x0.
    const xT = initialLatents(42, SHAPE);
    const aT = alphas[result.timesteps[0]];
    const want = Array.from(x0, (x, i) => Math.sqrt(alphas[0]) * x + Math.sqrt(1 - alphas[0]) * ((xT[i] - Math.sqrt(aT) * x) / Math.sqrt(1 - aT)));
    expect(result.timesteps).toEqual([876, 751, 626, 501, 376, 251, 126, 1]);
    expect(maxAbsDiff(result.latents, want)).toBeLessThan(2e-5);
    expect(maxAbsDiff(result.latents, x0)).toBeGreaterThan(0.01); // the test is not trivially the previous one
  });
});

/** uncond and cond branches that differ, depend on x and on the timestep. */
const uncondBranch = (x: ArrayLike<number>, t: number) => Array.from(x, (xi, i) => 0.7 * xi + 0.05 * Math.cos(i + t / 300));
const condBranch = (x: ArrayLike<number>, t: number) => Array.from(x, (xi, i) => 0.5 * xi + 0.2 * Math.sin(0.37 * i - t / 250));
const branchPredictor = () =>
  new FunctionPredictor((x, t, conditional) => Float32Array.from(conditional ? condBranch(x, t) : uncondBranch(x, t)));

/** DDIM (eta 0, SD15 config) with guidance, all in float64, from the papers' formulas. */
function referenceGuidedDdim(seed: number, timesteps: number[], guidance: number): Float64Array {
  let x = Float64Array.from(initialLatents(seed, SHAPE));
  for (const t of timesteps) {
    const u = uncondBranch(x, t);
    const c = condBranch(x, t);
    const eps = guidance === 1 ? c : u.map((ui, i) => ui + guidance * (c[i] - ui));
    const a = alphas[t];
    const aPrev = t - 166 >= 0 ? alphas[t - 166] : alphas[0];
    x = x.map((xi, i) => {
      const predicted = (xi - Math.sqrt(1 - a) * eps[i]) / Math.sqrt(a);
      return Math.sqrt(aPrev) * predicted + Math.sqrt(1 - aPrev) * eps[i];
    });
  }
  return x;
}

describe('classifier-free guidance', () => {
  const TIMESTEPS = [831, 665, 499, 333, 167, 1]; // leading spacing: 1000 // 6 = 166, + steps_offset 1

  test.each([7.5, 3, 1.5])('g = %s: batch [uncond, cond] and uncond + g (cond - uncond) match a float64 DDIM run', async (guidance) => {
    const m = model(branchPredictor());
    const result = await generate(request({ guidance }), m);
    expect(result.timesteps).toEqual(TIMESTEPS);
    expect(maxScaledDiff(result.latents, referenceGuidedDdim(42, TIMESTEPS, guidance))).toBeLessThan(1e-5);

    expect(m.conditioner.requests).toEqual([{ prompt: 'a photo of a cat', negativePrompt: 'blurry', variant: 'original', unconditional: true }]);
    expect(m.predictor.calls.map((c) => c.timestep)).toEqual(TIMESTEPS);
    for (const call of m.predictor.calls) {
      expect(call.shape).toEqual([2, 4, 16, 8]);
      expect(call.latents.subarray(0, SIZE)).toEqual(call.latents.subarray(SIZE));
      expect(call.conditioning.id).toBe(1);
    }
    expect(m.predictor.calls[0].latents.subarray(0, SIZE)).toEqual(initialLatents(42, SHAPE));
    expect(m.conditioner.released).toHaveLength(1);
  });

  test('g = 1 runs the conditional branch alone, in a batch of 1', async () => {
    const m = model(branchPredictor());
    const result = await generate(request({ guidance: 1 }), m);
    expect(m.conditioner.requests[0].unconditional).toBe(false);
    expect(m.predictor.calls.every((c) => c.shape[0] === 1 && c.latents.length === SIZE)).toBe(true);
    expect(maxScaledDiff(result.latents, referenceGuidedDdim(42, TIMESTEPS, 1))).toBeLessThan(1e-5);
  });

  test('applyGuidance rounds the float64 value once; float32 step-by-step arithmetic (diffusers) stays within 3 ulps of its largest term', () => {
    const u = randomArray(1, 1000);
    const c = randomArray(2, 1000, 1.3);
    for (const g of [1, 2.5, 7.5, 50]) {
      const got = applyGuidance(u, c, g);
      for (let i = 0; i < u.length; i++) {
        const exact = u[i] + g * (c[i] - u[i]);
        expect(got[i]).toBe(Math.fround(exact));
        const stepwise = Math.fround(u[i] + Math.fround(g * Math.fround(c[i] - u[i])));
        // Each of the three float32 roundings errs by half an ulp of a value no larger than the largest term.
        const largest = Math.max(Math.abs(u[i]), Math.abs(c[i] - u[i]), Math.abs(g * (c[i] - u[i])), Math.abs(exact));
        expect(Math.abs(stepwise - got[i])).toBeLessThanOrEqual(3 * ulp(largest));
      }
    }
    expect(() => applyGuidance(u, c.subarray(1), 2)).toThrow(ShapeError);
  });
});

function ulp(x: number): number {
  return 2 ** (Math.floor(Math.log2(Math.max(x, 2 ** -126))) - 23);
}

describe('determinism', () => {
  const m = () => model(branchPredictor());

  test('the same seed gives identical latents and PNG bytes, in any order; another seed does not (Euler ancestral)', async () => {
    const run = async (seed: number) => {
      const result = await generate(request({ seed, scheduler: 'euler_a', steps: 5 }), m());
      return { latents: result.latents, png: await encodePng(result.image) };
    };
    const a = await run(1234);
    const b = await run(1235);
    const again = await run(1234);
    expect(again.latents).toEqual(a.latents);
    expect(Buffer.from(again.png).equals(Buffer.from(a.png))).toBe(true);
    expect(maxAbsDiff(a.latents, b.latents)).toBeGreaterThan(0.1);
    expect(Buffer.from(a.png).equals(Buffer.from(b.png))).toBe(false);
  });

  test('the step noise of Euler ancestral is samplerStepNoise(seed, step): a hand-written loop gives the same bits', async () => {
    const result = await generate(request({ seed: 99, scheduler: 'euler_a', steps: 5, guidance: 1 }), m());
    const scheduler = createScheduler('euler_a', SD15_CONFIG, 5);
    let x = initialLatents(99, SHAPE, scheduler.initNoiseSigma);
    for (let i = 0; i < 5; i++) {
      const input = scheduler.scaleModelInput(x, i);
      x = scheduler.step(Float32Array.from(condBranch(input, scheduler.timesteps[i])), i, x, () => samplerStepNoise(99, i, SIZE));
    }
    expect(result.latents).toEqual(x);
  });
});

describe('progress and cancellation', () => {
  test('one denoise event per step (1..steps), then one decode event; previews are copies of each step', async () => {
    const events: GenerateProgress[] = [];
    const m = model(branchPredictor());
    const result = await generate(request({ scheduler: 'dpmpp_2m', steps: 4 }), m, {
      previewLatents: true,
      onProgress: (p) => {
        events.push(p);
        p.previewLatents?.fill(1e6); // must not reach the sampler
      },
    });
    expect(events.map(({ phase, step, steps }) => [phase, step, steps])).toEqual([
      ['denoise', 1, 4],
      ['denoise', 2, 4],
      ['denoise', 3, 4],
      ['denoise', 4, 4],
      ['decode', 4, 4],
    ]);
    expect(events.slice(0, 4).every((e) => e.previewLatents?.length === SIZE)).toBe(true);
    expect(events[4].previewLatents).toBeUndefined();
    const clean = await generate(request({ scheduler: 'dpmpp_2m', steps: 4 }), model(branchPredictor()));
    expect(result.latents).toEqual(clean.latents);
  });

  test('without previewLatents the events carry no latents', async () => {
    const events: GenerateProgress[] = [];
    await generate(request({ steps: 2 }), model(branchPredictor()), { onProgress: (p) => events.push(p) });
    expect(events.every((e) => e.previewLatents === undefined)).toBe(true);
  });

  test.each([1, 3, 6])('aborting in the event of step %i stops before the next step runs', async (k) => {
    const controller = new AbortController();
    const m = model(branchPredictor());
    const run = generate(request({ steps: 6 }), m, {
      signal: controller.signal,
      onProgress: (p) => p.phase === 'denoise' && p.step === k && controller.abort(),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(m.predictor.calls).toHaveLength(k);
    expect(m.decoder.calls).toHaveLength(0);
    expect(m.conditioner.released).toHaveLength(1);
  });

  test('aborting in the decode event skips decoding; the signal’s reason is what is thrown', async () => {
    const controller = new AbortController();
    const reason = new Error('user pressed stop');
    const m = model(branchPredictor());
    const run = generate(request({ steps: 2 }), m, {
      signal: controller.signal,
      onProgress: (p) => p.phase === 'decode' && controller.abort(reason),
    });
    await expect(run).rejects.toBe(reason);
    expect(m.predictor.calls).toHaveLength(2);
    expect(m.decoder.calls).toHaveLength(0);
  });

  test('an already aborted signal runs nothing', async () => {
    const m = model(branchPredictor());
    await expect(generate(request(), m, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(m.conditioner.requests).toHaveLength(0);
    expect(m.predictor.calls).toHaveLength(0);
  });
});

describe('request validation', () => {
  test.each([
    ['width', { width: 100 }, /width: got 100, expected a multiple of 64 in \[64, 2048\]/],
    ['width', { width: 0 }, /width: got 0/],
    ['width', { width: 4096 }, /width: got 4096/],
    ['height', { height: 72 }, /height: got 72, expected a multiple of 64/],
    ['height', { height: '512' }, /height: got "512"/],
    ['steps', { steps: 0 }, /steps: got 0, expected an integer in \[1, 1000\]/],
    ['steps', { steps: 1001 }, /steps: got 1001/],
    ['steps', { steps: 2.5 }, /steps: got 2.5/],
    ['guidance', { guidance: 0.5 }, /guidance: got 0.5, expected a number in \[1, 50\]/],
    ['guidance', { guidance: NaN }, /guidance: got NaN/],
    ['guidance', { guidance: 51 }, /guidance: got 51/],
    ['seed', { seed: -1 }, /seed: got -1, expected an integer in \[0, 4294967295\]/],
    ['seed', { seed: 2 ** 32 }, /seed: got 4294967296/],
    ['seed', { seed: 1.5 }, /seed: got 1.5/],
    ['scheduler', { scheduler: 'plms' }, /scheduler: got "plms", expected one of ddim, euler_a, dpmpp_2m/],
    ['variant', { variant: 'erased' }, /variant: got "erased", expected one of original, edited/],
    ['prompt', { prompt: 42 }, /prompt: got 42, expected a string/],
    ['negativePrompt', { negativePrompt: ['x'] }, /negativePrompt: got an array, expected a string/],
  ])('%s: %j is an InputError naming the field and its range', async (_, overrides, message) => {
    const m = model(branchPredictor());
    const bad = { ...request(), ...overrides } as unknown as GenerateRequest;
    await expect(generate(bad, m)).rejects.toThrow(InputError);
    await expect(generate(bad, m)).rejects.toThrow(message);
    expect(m.conditioner.requests).toHaveLength(0);
    expect(m.predictor.calls).toHaveLength(0);
  });

  test('valid edges pass, and a missing negative prompt becomes ""', () => {
    const { negativePrompt: _, ...withoutNegative } = request({ seed: 2 ** 32 - 1, steps: 1000, guidance: 50, width: 2048, height: 64 });
    const valid = validateGenerateRequest(withoutNegative, SD_SPACE);
    expect(valid.negativePrompt).toBe('');
    expect(valid.seed).toBe(2 ** 32 - 1);
    expect(validateGenerateRequest(request({ guidance: 1, seed: 0, steps: 1 }), SD_SPACE).guidance).toBe(1);
    expect(() => validateGenerateRequest('a cat', SD_SPACE)).toThrow(/generate request: got "a cat", expected an object/);
  });

  test('the size multiple follows the pack: VAE scale x 2^(UNet blocks - 1)', () => {
    expect(pixelMultiple(SD_SPACE)).toBe(64);
    const twoBlocks = { ...SD_SPACE, unetChannels: [16, 32] };
    expect(pixelMultiple(twoBlocks)).toBe(16);
    expect(validateGenerateRequest(request({ width: 48, height: 16 }), twoBlocks).width).toBe(48);
    expect(() => validateGenerateRequest(request({ width: 40 }), twoBlocks)).toThrow(/width: got 40, expected a multiple of 16/);
  });

  test('more steps than the scheduler has timesteps is an InputError from the scheduler', async () => {
    const m = model(branchPredictor(), { ...SD15_CONFIG, num_train_timesteps: 100 });
    await expect(generate(request({ steps: 200 }), m)).rejects.toThrow(/steps: got 200, expected an integer in \[1, 100\]/);
  });
});

describe('component failures', () => {
  test('a NaN from the predictor is a NonFiniteError naming the step and timestep', async () => {
    let calls = 0;
    const predictor = new FunctionPredictor((x) => {
      const out = new Float32Array(x.length);
      if (++calls === 6) out[17] = NaN; // step index 2, cond half (batch entry 1)
      return out;
    });
    const m = model(predictor);
    const error = await generate(request(), m).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteError);
    expect(error).toMatchObject({ source: 'noise prediction', stepIndex: 2, timestep: 499, index: SIZE + 17 });
    expect(m.conditioner.released).toHaveLength(1);
  });

  test('a prediction of the wrong size is a ShapeError', async () => {
    const predictor = new FunctionPredictor((x) => x);
    predictor.predict = async () => new Float32Array(3);
    await expect(generate(request(), model(predictor))).rejects.toThrow(/step 0 returned a Float32Array of 3 values, expected a Float32Array of \[2, 4, 16, 8\] = 1024/);
  });

  test('a decoder may return the image itself; one of the wrong size is a ShapeError', async () => {
    const image = { width: WIDTH, height: HEIGHT, rgba: new Uint8ClampedArray(WIDTH * HEIGHT * 4).fill(9) };
    const result = await generate(request({ steps: 1 }), model(branchPredictor(), SD15_CONFIG, new FakeDecoder(image)));
    expect(result.image).toBe(image);
    const small = { width: 8, height: 8, rgba: new Uint8ClampedArray(256) };
    await expect(generate(request({ steps: 1 }), model(branchPredictor(), SD15_CONFIG, new FakeDecoder(small)))).rejects.toThrow(
      /returned a 8 x 8 image, expected 64 x 128/,
    );
  });

  test('a NaN in the decoded image is a NonFiniteError', async () => {
    const decoder = new FakeDecoder();
    decoder.decode = async () => new Float32Array(3 * WIDTH * HEIGHT).fill(Number.POSITIVE_INFINITY, 5, 6);
    await expect(generate(request({ steps: 1 }), model(branchPredictor(), SD15_CONFIG, decoder))).rejects.toMatchObject({
      name: 'NonFiniteError',
      source: 'decoded image',
      index: 5,
    });
  });
});
