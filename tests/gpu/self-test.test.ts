import { describe, expect, test } from 'vitest';
import { selfTest, SELF_TEST_NAMES } from '../../src/gpu/self-test.ts';
import * as kernels from '../../src/gpu/kernels/index.ts';
import { testGpu } from '../support/gpu.ts';

const { ctx } = await testGpu();

describe('kernel self-test', () => {
  test('every kernel family runs and passes against its float64 reference', async () => {
    const checks = await selfTest(ctx);
    expect(checks.map((c) => c.name.replace(' (f16)', ''))).toEqual(ctx.shaderF16 ? [...SELF_TEST_NAMES, ...SELF_TEST_NAMES] : SELF_TEST_NAMES);
    for (const check of checks) {
      expect(check.error, check.name).toBeUndefined();
      expect(check.passed, `${check.name}: ${check.maxRelError}`).toBe(true);
      expect(check.maxRelError).toBeGreaterThanOrEqual(0);
      expect(check.ms).toBeGreaterThan(0);
    }
    // A real comparison, not a constant: the float64 references differ from f32 by rounding.
    expect(checks.some((c) => c.maxRelError > 0)).toBe(true);
  });

  test('reports a kernel that cannot run as failed, with the reason', async () => {
    // A device error mid-check must come back as a failed row, not an exception: simulate one
    // by giving the checks a context whose uploads throw.
    const broken = Object.create(ctx, { upload: { value: () => { throw new Error('simulated upload failure'); } } }) as typeof ctx;
    const checks = await selfTest(broken);
    expect(checks.every((c) => !c.passed && c.maxRelError === Infinity && c.error === 'simulated upload failure')).toBe(true);
  });

  test('the kernel index exports every dispatcher', () => {
    for (const name of ['matmul', 'binary', 'unary', 'affine', 'where', 'reduce', 'softmax', 'layerNorm', 'groupNorm', 'instanceNorm']) {
      expect(typeof (kernels as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});
