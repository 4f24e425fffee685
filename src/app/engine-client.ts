import * as Comlink from 'comlink';
import type { EngineApi, EngineEvent, GpuStatus, PackSourceSpec } from '../engine/api.ts';
import { useStudio } from './store.ts';

/**
 * The UI's handle on the engine worker, which owns the GPU. The handle outlives the worker: when
 * the worker dies (an uncaught error in it, or it is terminated: out of memory, a bug), every
 * call in flight rejects with EngineRestartedError, the studio says so, a new worker starts, and
 * the handle replays what the page had established: the event subscriptions, init(), the last
 * pack loaded (its files come from the cache) and the current edit (from its recipe, or the
 * imported LoRA), with the kept edits of the comparison columns. Calls made meanwhile wait for
 * the restart, so the page keeps using the same handle throughout.
 */

/** A call that was running when the engine worker died; the worker was restarted. */
export class EngineRestartedError extends Error {
  override readonly name = 'EngineRestartedError';
}

/** How the studio's state in the engine is rebuilt in a new worker. */
interface RestoreState {
  listeners: ((event: EngineEvent) => void)[];
  initialized: boolean;
  pack: PackSourceSpec | null;
  /** The current edit: a recipe (erase, applyRecipe) or an imported LoRA. */
  edit: { kind: 'recipe'; json: string; id: string } | { kind: 'lora'; bytes: Uint8Array; fileName: string; strength: number } | null;
  /** Kept edits (comparison columns) by id, with the recipe that recomputes each. */
  kept: Map<string, string>;
}

/** More deaths than this within RESTART_WINDOW_MS: stop restarting (the page must be reloaded). */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

type Remote = Comlink.Remote<EngineApi>;
type Method = keyof EngineApi & string;

class SupervisedEngine {
  private worker!: Worker;
  private remote!: Remote;
  /** Rejects when the current worker dies; every call races it. */
  private death!: Promise<never>;
  private killWorker!: (reason: string) => void;
  /** Resolves when a restart has finished (or failed): calls wait for it. */
  private ready: Promise<void> = Promise.resolve();
  private readonly deaths: number[] = [];
  private gaveUp: string | null = null;
  /** Workers started, the first included (test hooks read it). */
  workersStarted = 0;
  private readonly state: RestoreState = { listeners: [], initialized: false, pack: null, edit: null, kept: new Map() };

  constructor() {
    this.startWorker();
  }

  private startWorker(): void {
    const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'lethe-engine' });
    this.workersStarted++;
    this.worker = worker;
    this.remote = Comlink.wrap<EngineApi>(worker);
    let dead = false;
    this.death = new Promise<never>((_, reject) => {
      this.killWorker = (reason: string) => {
        if (dead) return;
        dead = true;
        worker.terminate();
        // The notice says why and what is restored; the interrupted call only says what to do.
        reject(new EngineRestartedError('Interrupted by an engine restart; run it again.'));
        this.onDeath(reason);
      };
    });
    // Calls race this promise; without a handler of its own, a death with no call in flight would be an unhandled rejection.
    this.death.catch(() => undefined);
    worker.addEventListener('error', (event) => {
      event.preventDefault();
      this.killWorker(`it crashed: ${event.message || 'an error in the engine worker'}`);
    });
    worker.addEventListener('messageerror', () => this.killWorker('a message from it could not be read'));
  }

  /** Stops the worker as a crash would (tests: a worker killed mid-generation). */
  terminate(reason = 'the worker was terminated'): void {
    this.killWorker(reason);
  }

  private onDeath(reason: string): void {
    const now = Date.now();
    this.deaths.push(now);
    while (this.deaths.length > 0 && this.deaths[0] < now - RESTART_WINDOW_MS) this.deaths.shift();
    const { notify } = useStudio.getState();
    if (this.deaths.length > MAX_RESTARTS) {
      this.gaveUp = `The engine stopped ${this.deaths.length} times in a minute (last: ${reason}); it is not restarted again. Reload the page.`;
      notify(this.gaveUp);
      return;
    }
    notify(`The engine stopped (${reason}). Restarting it: the model is reloaded from the cache and the current edit restored from its recipe.`);
    this.ready = this.restart().then(
      (restored) => notify(`The engine was restarted${restored ? `: ${restored}` : ''}.`),
      (error: unknown) => notify(`The engine was restarted, but restoring the model failed: ${(error as Error).message}. Load the model again.`),
    );
  }

  /** A new worker, then everything the page had set up, in order; says what was restored. */
  private async restart(): Promise<string> {
    this.startWorker();
    const remote = this.remote;
    const restored: string[] = [];
    for (const listener of this.state.listeners) await this.race(remote.subscribe(Comlink.proxy(listener)));
    if (this.state.initialized) useStudio.getState().setGpu(await this.race<GpuStatus>(remote.init()));
    if (this.state.pack) {
      const summary = await this.race(remote.loadPack(this.state.pack));
      restored.push(`model ${summary.description} reloaded from the cache`);
    }
    for (const [id, recipe] of this.state.kept) {
      if (this.state.edit?.kind === 'recipe' && this.state.edit.id === id) continue;
      await this.race(remote.applyRecipe(recipe));
      await this.race(remote.keepEdit(id));
    }
    const edit = this.state.edit;
    if (edit?.kind === 'recipe') {
      const summary = await this.race(remote.applyRecipe(edit.json));
      if (this.state.kept.has(summary.id)) await this.race(remote.keepEdit(summary.id));
      restored.push(`edit ${summary.id.slice(0, 12)} restored from its recipe`);
    } else if (edit?.kind === 'lora') {
      await this.race(remote.importLora(edit.bytes, edit.fileName, edit.strength));
      restored.push(`LoRA ${edit.fileName} applied again`);
    } else if (this.state.kept.size > 0) {
      await this.race(remote.clearEdit());
    }
    return restored.join(', ');
  }

  private race<T>(call: Promise<T>): Promise<T> {
    return Promise.race([call, this.death]);
  }

  /** One engine call on the live worker; records what a restart must replay. */
  async call(method: Method, args: unknown[]): Promise<unknown> {
    await this.ready;
    if (this.gaveUp) throw new EngineRestartedError(this.gaveUp);
    const fn = this.remote[method] as unknown as (...a: unknown[]) => Promise<unknown>;
    let result: unknown;
    try {
      result = await this.race(fn(...args));
    } catch (error) {
      // The engine dropped its device, but onnxruntime-web keeps its first device for the worker's
      // life: only a new worker gets a working one. The call still reports its own error.
      if ((error as Error | undefined)?.name === 'GpuOutOfMemoryError') this.killWorker('the GPU ran out of memory');
      throw error;
    }
    this.record(method, args, result);
    return result;
  }

  private record(method: Method, args: unknown[], result: unknown): void {
    const state = this.state;
    switch (method) {
      case 'subscribe':
        state.listeners.push(args[0] as (event: EngineEvent) => void);
        break;
      case 'init':
        state.initialized = true;
        break;
      case 'loadPack':
        state.pack = args[0] as PackSourceSpec;
        state.edit = null;
        state.kept.clear();
        break;
      case 'erase':
      case 'applyRecipe': {
        const summary = result as { id: string; recipe: string };
        state.edit = { kind: 'recipe', json: summary.recipe, id: summary.id };
        break;
      }
      case 'importLora':
        state.edit = { kind: 'lora', bytes: args[0] as Uint8Array, fileName: args[1] as string, strength: args[2] as number };
        break;
      case 'clearEdit':
        state.edit = null;
        break;
      case 'keepEdit':
        if (result === true && state.edit?.kind === 'recipe' && state.edit.id === args[0]) state.kept.set(state.edit.id, state.edit.json);
        break;
      case 'releaseKeptEdit':
        state.kept.delete(args[0] as string);
        break;
    }
  }

  /** The handle the page uses: every EngineApi method, forwarded to whichever worker is alive. */
  handle(): Remote {
    const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
    return new Proxy({} as Remote, {
      get: (_, property) => {
        // Not a thenable, and no comlink internals (symbols): only named engine methods.
        if (typeof property !== 'string' || property === 'then') return undefined;
        let method = methods.get(property);
        if (!method) methods.set(property, (method = (...args: unknown[]) => this.call(property as Method, args)));
        return method;
      },
    });
  }
}

let supervisor: SupervisedEngine | null = null;
let client: Remote | null = null;

function engineSupervisor(): SupervisedEngine {
  if (!supervisor) {
    supervisor = new SupervisedEngine();
    installWorkerTestHook(supervisor);
  }
  return supervisor;
}

export function engineClient(): Remote {
  if (!client) client = engineSupervisor().handle();
  return client;
}

/** `window.__letheEngine` (test builds, or `?testing`): stop the worker as a crash would, count workers. */
export interface EngineWorkerTestHook {
  terminate(): void;
  readonly workersStarted: number;
}

declare global {
  interface Window {
    __letheEngine?: EngineWorkerTestHook;
  }
}

function installWorkerTestHook(engine: SupervisedEngine): void {
  const enabled = import.meta.env.MODE !== 'production' || new URLSearchParams(globalThis.location?.search ?? '').has('testing');
  if (!enabled || typeof window === 'undefined') return;
  const hook: EngineWorkerTestHook = {
    terminate: () => engine.terminate(),
    get workersStarted() {
      return engine.workersStarted;
    },
  };
  Object.defineProperty(window, '__letheEngine', { value: hook, configurable: true });
}

export { Comlink };
