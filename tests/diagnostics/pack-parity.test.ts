import { describe, expect, test } from 'vitest';
import { checkPackParity } from '../../src/diagnostics/pack-parity.ts';
import { NodeOnnxRunner } from '../../src/pipeline/onnx/node-runner.ts';
import { testContext } from '../support/gpu.ts';

const ctx = await testContext();

describe('pack parity check (the diagnostics page runs it on ORT-web WebGPU)', () => {
  test.each(['tiny-sd15', 'tiny-sd21'] as const)('%s fp32: pieces + our K/V match the unsplit export on onnxruntime-node', async (preset) => {
    const row = await checkPackParity(ctx, new NodeOnnxRunner(), preset, 'fp32');
    expect(row.maxAbsValue).toBeGreaterThan(0.1);
    expect(row.maxAbsDiff).toBeLessThan(1e-5);
    expect(row.passed).toBe(true);
  }, 60_000);
});
