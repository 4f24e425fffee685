/**
 * The engine handle's restart, in Node: the "worker" is a MessageChannel with a scripted engine
 * exposed by comlink on its far end, so the handle's real comlink traffic is exercised. Killing
 * it mid-generation must reject that call, start a new worker and replay what the page had set
 * up (subscription, init, the pack, kept edits, the current edit) in order, before any new call.
 */
import * as Comlink from 'comlink';
import { beforeAll, describe, expect, test, vi } from 'vitest';

interface Call {
  worker: number;
  method: string;
  arg?: unknown;
}

const calls: Call[] = [];
/** Resolves the pending generate() of the current fake worker. */
let finishGenerate: (() => void) | null = null;

function scriptedEngine(worker: number) {
  const log = (method: string, arg?: unknown) => calls.push({ worker, method, ...(arg === undefined ? {} : { arg }) });
  return {
    async subscribe() {
      log('subscribe');
    },
    async init() {
      log('init');
      return { state: 'ready', report: { vendor: 'fake', description: 'fake' }, problems: [] };
    },
    async loadPack(spec: { kind: string }) {
      log('loadPack', spec.kind);
      return { id: 'pack-1', description: 'fake pack', family: 'tiny-sd15' };
    },
    async erase() {
      log('erase');
      return { id: 'e'.repeat(64), recipe: '{"recipe":"erase"}' };
    },
    async applyRecipe(json: string) {
      log('applyRecipe', json);
      return { id: json === '{"recipe":"erase"}' ? 'e'.repeat(64) : 'k'.repeat(64), recipe: json };
    },
    async keepEdit(id: string) {
      log('keepEdit', id.slice(0, 1));
      return true;
    },
    async clearEdit() {
      log('clearEdit');
    },
    generate(params: { jobId: string }) {
      log('generate', params.jobId);
      if (params.jobId === 'oom') return Promise.reject(Object.assign(new Error('Generating at 512x512 ran out of GPU memory: vkAllocateMemory failed.'), { name: 'GpuOutOfMemoryError' }));
      return new Promise((resolve) => {
        finishGenerate = () => resolve({ jobId: params.jobId, width: 8, height: 8 });
      });
    },
  };
}

/** Enough of a Worker for comlink and the handle: messages over a MessageChannel, error events, terminate(). */
class FakeWorker extends EventTarget {
  static readonly instances: FakeWorker[] = [];
  static started = 0;
  private readonly port: MessagePort;
  private readonly far: MessagePort;
  constructor() {
    super();
    const channel = new MessageChannel();
    this.port = channel.port1;
    this.far = channel.port2;
    Comlink.expose(scriptedEngine(++FakeWorker.started), this.far);
    this.port.addEventListener('message', (event) => this.dispatchEvent(new MessageEvent('message', { data: (event as MessageEvent).data })));
    this.port.start();
    FakeWorker.instances.push(this);
  }
  postMessage(message: unknown, transfer: Transferable[] = []): void {
    this.port.postMessage(message, transfer);
  }
  terminate(): void {
    this.port.close();
    this.far.close();
  }
}

let client: typeof import('../../src/app/engine-client.ts');
let store: typeof import('../../src/app/store.ts');

beforeAll(async () => {
  (globalThis as { Worker?: unknown }).Worker = FakeWorker;
  client = await import('../../src/app/engine-client.ts');
  store = await import('../../src/app/store.ts');
});


describe('engine handle: the worker dies mid-generation', () => {
  test('the call in flight rejects, a new worker gets the pack and the edit back, later calls run on it', async () => {
    const engine = client.engineClient();
    await engine.subscribe(Comlink.proxy(() => undefined));
    await engine.init();
    await engine.loadPack({ kind: 'demo' });
    await engine.erase({} as never);
    await engine.keepEdit('e'.repeat(64));
    await engine.applyRecipe('{"recipe":"kept"}');
    await engine.keepEdit('k'.repeat(64));
    await engine.applyRecipe('{"recipe":"erase"}');
    expect(FakeWorker.started).toBe(1);

    const generating = engine.generate({ jobId: 'job-1' } as never);
    await vi.waitFor(() => expect(calls.at(-1)?.method).toBe('generate'), { timeout: 10_000 });
    expect(calls.at(-1)).toEqual({ worker: 1, method: 'generate', arg: 'job-1' });
    calls.length = 0;

    // What a crash looks like from the page: an error event on the worker.
    FakeWorker.instances[0].dispatchEvent(Object.assign(new Event('error', { cancelable: true }), { message: 'out of memory' }));

    await expect(generating).rejects.toMatchObject({ name: 'EngineRestartedError', message: 'Interrupted by an engine restart; run it again.' });
    // A call made during the restart waits for it and runs on the new worker.
    const after = engine.generate({ jobId: 'job-2' } as never);
    await vi.waitFor(() => expect(calls.at(-1)?.method).toBe('generate'), { timeout: 10_000 });
    expect(FakeWorker.started).toBe(2);
    expect(calls).toEqual([
      { worker: 2, method: 'subscribe' },
      { worker: 2, method: 'init' },
      { worker: 2, method: 'loadPack', arg: 'demo' },
      // The kept edit that is not current is recomputed and kept again, then the current edit.
      { worker: 2, method: 'applyRecipe', arg: '{"recipe":"kept"}' },
      { worker: 2, method: 'keepEdit', arg: 'k' },
      { worker: 2, method: 'applyRecipe', arg: '{"recipe":"erase"}' },
      { worker: 2, method: 'keepEdit', arg: 'e' },
      { worker: 2, method: 'generate', arg: 'job-2' },
    ]);
    finishGenerate?.();
    await expect(after).resolves.toMatchObject({ jobId: 'job-2' });

    const notices = store.useStudio.getState().notices;
    expect(notices.filter((n) => n.startsWith('The engine stopped (it crashed: out of memory)'))).toHaveLength(1);
    expect(notices.at(-1)).toBe(`The engine was restarted: model fake pack reloaded from the cache, edit ${'e'.repeat(12)} restored from its recipe.`);
  });
});

describe('engine handle: the GPU ran out of memory', () => {
  test('the call reports it, and a new worker (a fresh GPU device for onnxruntime-web) gets the pack and the edit back', async () => {
    const engine = client.engineClient();
    const worker = FakeWorker.started;
    calls.length = 0;
    await expect(engine.generate({ jobId: 'oom' } as never)).rejects.toMatchObject({ name: 'GpuOutOfMemoryError', message: expect.stringMatching(/ran out of GPU memory/) });
    const next = engine.generate({ jobId: 'job-3' } as never);
    await vi.waitFor(() => expect(calls.at(-1)).toEqual({ worker: worker + 1, method: 'generate', arg: 'job-3' }), { timeout: 10_000 });
    expect(calls.map((c) => `${c.worker}:${c.method}`)).toEqual([
      `${worker}:generate`,
      ...['subscribe', 'init', 'loadPack', 'applyRecipe', 'keepEdit', 'applyRecipe', 'keepEdit', 'generate'].map((method) => `${worker + 1}:${method}`),
    ]);
    finishGenerate?.();
    await expect(next).resolves.toMatchObject({ jobId: 'job-3' });
    expect(store.useStudio.getState().notices.filter((n) => n.startsWith('The engine stopped (the GPU ran out of memory)'))).toHaveLength(1);
  });
});
