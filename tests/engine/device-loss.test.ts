import { describe, expect, test } from 'vitest';
import type { EngineEvent } from '../../src/engine/api.ts';
import { Engine } from '../../src/engine/engine.ts';
import { createNodeEngine, nodePlatform } from '../../src/engine/node-engine.ts';
import type { EnginePlatform } from '../../src/engine/platform.ts';
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

describe('out of GPU memory', () => {
  const params = (jobId: string) => ({ jobId, prompt: 'a cat', seed: 3, steps: 2, guidance: 7.5, scheduler: 'ddim' as const, variant: 'original' as const });

  test('a generation whose allocation failed says so (not "Invalid Buffer"), resets the device, and the reloaded pack draws the same image', async () => {
    // What onnxruntime-web does on a real out-of-memory: the failed allocation goes to the device's
    // uncapturederror event, and the run fails later on the invalid buffer it left.
    let failNextRun = false;
    const base = nodePlatform({ cache: new MemoryBlobCache() });
    const platform: EnginePlatform = {
      ...base,
      onnxRunner: async (device) => {
        const runner = await base.onnxRunner(device);
        const createSession = runner.createSession.bind(runner);
        runner.createSession = async (spec) => {
          const session = await createSession(spec);
          const run = session.run.bind(session);
          session.run = (async (...args: Parameters<typeof run>) => {
            if (!failNextRun) return run(...args);
            failNextRun = false;
            (await engine.gpu()).recordUncapturedError({ message: 'vkAllocateMemory failed with VK_ERROR_OUT_OF_DEVICE_MEMORY\n - While calling [Device "lethe"].CreateBuffer([BufferDescriptor]).' });
            throw new Error('failed to call OrtRun(). ERROR_CODE: 1, ERROR_MESSAGE: WebGPU validation failed. [Invalid Buffer (unlabeled)] is invalid due to a previous error.');
          }) as typeof session.run;
          return session;
        };
        return runner;
      },
    };
    const engine = new Engine(platform);
    expect((await engine.init()).state).toBe('ready');
    const events: EngineEvent[] = [];
    await engine.subscribe((event) => events.push(event));
    await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
    const before = await engine.generate(params('before'));
    const oldDevice = (await engine.gpu()).device;

    failNextRun = true;
    const error = await engine.generate(params('oom')).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error?.name).toBe('GpuOutOfMemoryError');
    expect(error?.message).toBe(
      'Generating at 64x64 ran out of GPU memory: vkAllocateMemory failed with VK_ERROR_OUT_OF_DEVICE_MEMORY. The GPU device was reset; the model reloads from the cache. ' +
        'What to do: load the fp16 pack of this model on a GPU with shader-f16 (half the memory); or close other tabs and programs that use the GPU.',
    );
    // The device is dropped at once (its pools may hold the invalid buffer); the next call gets a new one.
    const ctx = await engine.gpu();
    expect(ctx.device).not.toBe(oldDevice);
    expect(events.map((e) => e.type)).toEqual(['device-restored']);
    await expect(engine.generate(params('unloaded'))).rejects.toThrow(/No model is loaded/);
    await engine.loadPack({ kind: 'demo', preset: 'tiny-sd15' });
    const after = await engine.generate(params('after'));
    expect(after.rgba).toEqual(before.rgba);
    // An ordinary failure stays what it was.
    await expect(engine.generate({ ...params('bad'), steps: 0 })).rejects.not.toMatchObject({ name: 'GpuOutOfMemoryError' });
    await engine.dispose();
  }, 180_000);
});
