/// <reference lib="webworker" />
/**
 * The engine worker: the only place in the browser that touches the GPU. The UI talks to it
 * through comlink; callbacks come in as comlink proxies.
 */
import * as Comlink from 'comlink';
import { browserPlatform } from '../src/engine/browser-platform.ts';
import { Engine } from '../src/engine/engine.ts';

Comlink.expose(new Engine(browserPlatform));
