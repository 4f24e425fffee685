import * as Comlink from 'comlink';
import type { EngineApi } from '../engine/api.ts';

/** The UI's handle on the engine worker. Created once; the worker owns the GPU. */
let client: Comlink.Remote<EngineApi> | null = null;

export function engineClient(): Comlink.Remote<EngineApi> {
  if (!client) {
    const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'lethe-engine' });
    client = Comlink.wrap<EngineApi>(worker);
  }
  return client;
}

export { Comlink };
