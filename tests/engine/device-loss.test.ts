import { describe, expect, test } from 'vitest';
import type { EngineEvent } from '../../src/engine/api.ts';
import { createNodeEngine } from '../../src/engine/node-engine.ts';
import { MemoryBlobCache } from '../../src/model/cache/memory.ts';

describe('device loss', () => {
  test('a device destroyed behind the engine is reported, re-acquired on the next call, and usable', async () => {
    const engine = await createNodeEngine({ cache: new MemoryBlobCache() });
    const events: EngineEvent[] = [];
    await engine.subscribe((event) => events.push(event));
    await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
    const lostDevice = (await engine.gpu()).device;
    lostDevice.destroy();
    await lostDevice.lost;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(events.map((e) => e.type)).toEqual(['device-lost']);

    const ctx = await engine.gpu();
    expect(ctx.device).not.toBe(lostDevice);
    expect(events.map((e) => e.type)).toEqual(['device-lost', 'device-restored']);
    // Everything on the old device is gone: the pack must be loaded again, and says so.
    await expect(engine.generate({ jobId: 'x', prompt: 'a cat', seed: 1, steps: 1, guidance: 1, scheduler: 'ddim', variant: 'original' })).rejects.toThrow(/No model is loaded/);
    const checks = await engine.selfTest();
    expect(checks.every((check) => check.passed)).toBe(true);
    await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
    const image = await engine.generate({ jobId: 'y', prompt: 'a cat', seed: 1, steps: 1, guidance: 1, scheduler: 'ddim', variant: 'original' });
    expect(image.rgba.length).toBe(64 * 64 * 4);
    await engine.dispose();
  }, 120_000);

  test('our own dispose is not a loss', async () => {
    const engine = await createNodeEngine({ cache: new MemoryBlobCache() });
    const events: EngineEvent[] = [];
    await engine.subscribe((event) => events.push(event));
    const device = (await engine.gpu()).device;
    await engine.dispose();
    await device.lost;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(events).toEqual([]);
  });
});
