import { Comlink, engineClient } from './engine-client.ts';
import { useStudio } from './store.ts';

/** UI actions: each asks the engine and puts the answer in the store. */
export async function connectEngine(): Promise<void> {
  const engine = engineClient();
  const { setGpu, notify } = useStudio.getState();
  await engine.subscribe(
    Comlink.proxy((event) => {
      if (event.type === 'device-lost') notify(`The GPU device was lost (${event.reason}: ${event.message}). It is re-acquired on the next action.`);
      else notify(`GPU device restored on ${event.report.description || event.report.vendor}.`);
    }),
  );
  setGpu(await engine.init());
}

export async function runSelfTest(): Promise<void> {
  const { setSelfTest } = useStudio.getState();
  setSelfTest({ state: 'running' });
  const started = performance.now();
  try {
    const checks = await engineClient().selfTest();
    setSelfTest({ state: 'done', checks, ms: performance.now() - started });
  } catch (error) {
    setSelfTest({ state: 'failed', message: (error as Error).message });
  }
}
