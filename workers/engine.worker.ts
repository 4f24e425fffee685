/// <reference lib="webworker" />
/**
 * The engine worker: the only place in the browser that touches the GPU. The UI talks to it
 * through comlink; callbacks come in as comlink proxies.
 */
import * as Comlink from 'comlink';
import { Engine } from '../src/engine/engine.ts';

const engine = new Engine(async () => (self as unknown as { navigator: Navigator }).navigator.gpu);
Comlink.expose(engine);
