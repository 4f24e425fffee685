import { describe, expect, test } from 'vitest';
import { PauseGate } from '../../../src/erasure/fine-tune/pause-gate.ts';

describe('PauseGate', () => {
  test('passes when running, holds while paused until resume, and rejects a held wait on abort', async () => {
    const gate = new PauseGate();
    await gate.wait();
    gate.pause();
    let passed = false;
    const held = gate.wait().then(() => (passed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(passed).toBe(false);
    gate.resume();
    await held;
    expect(passed).toBe(true);
    gate.pause();
    const controller = new AbortController();
    const aborted = gate.wait(controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(aborted).rejects.toThrow('cancelled');
  });
});
