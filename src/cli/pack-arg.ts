import { resolve } from 'node:path';
import type { DemoPreset, PackSourceSpec } from '../engine/api.ts';
import { UsageError } from './command.ts';

const DEMO_PRESETS: readonly DemoPreset[] = ['tiny-sd15', 'tiny-sd21'];

/** `--pack` values: a pack directory, `demo` / `demo:tiny-sd21` (built in), or `hub:owner/name[@rev]`. */
export function packSpecFromArg(value: string): PackSourceSpec {
  if (value === 'demo') return { kind: 'demo' };
  if (value.startsWith('demo:')) {
    const preset = value.slice(5) as DemoPreset;
    if (!DEMO_PRESETS.includes(preset)) throw new UsageError(`--pack ${value}: the built-in demo packs are ${DEMO_PRESETS.map((p) => `demo:${p}`).join(', ')}`);
    return { kind: 'demo', preset };
  }
  if (value.startsWith('hub:')) {
    const [repo, revision] = value.slice(4).split('@');
    if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) throw new UsageError(`--pack ${value}: expected hub:owner/name or hub:owner/name@revision`);
    return { kind: 'hub', repo, ...(revision ? { revision } : {}), ...(process.env.LETHE_HUB_ENDPOINT ? { endpoint: process.env.LETHE_HUB_ENDPOINT } : {}), ...(process.env.HF_TOKEN ? { token: process.env.HF_TOKEN } : {}) };
  }
  return { kind: 'path', path: resolve(value) };
}
