import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputNotFoundError } from '../util/errors.ts';
import type { DemoPreset, PackSourceSpec } from '../engine/api.ts';
import { DEMO_PRESETS } from '../model/pack-spec.ts';
import { UsageError } from './command.ts';

/** `--pack` values: a pack directory, `demo` (the forged tiny-sd15, the CLI's default demo) / `demo:concept-world` / `demo:tiny-sd21` (built in), or `hub:owner/name[@rev]`. */
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

/** A `--pack` path must be an existing folder; checked before an engine (and a GPU device) starts for a typo. */
export function checkPackArg(value: string): void {
  if (value === 'demo' || value.startsWith('demo:') || value.startsWith('hub:')) return;
  const info = statSync(resolve(value), { throwIfNoEntry: false });
  if (!info) throw new InputNotFoundError(`--pack ${value}: no such folder; give a pack folder (the one with manifest.json), demo, or hub:owner/name`);
  if (!info.isDirectory()) throw new InputNotFoundError(`--pack ${value} is a file; give the pack folder (the one with manifest.json)`);
}
