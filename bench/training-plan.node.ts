/**
 * Prints src/training/training-plan.ts for a pack folder: `node bin/run-ts.mjs bench/training-plan.node.ts
 * --pack DIR [--latent 64x64] [--batch 1] [--budgets 1,2,4] (GiB) [--fused]`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MANIFEST_FILE, parseManifest } from '../src/model/manifest.ts';
import { trainingPlan } from '../src/training/training-plan.ts';

const { values } = parseArgs({ options: { pack: { type: 'string' }, latent: { type: 'string' }, batch: { type: 'string' }, budgets: { type: 'string' }, fused: { type: 'boolean' } } });
if (!values.pack) throw new Error('--pack DIR is required');
const packDir = values.pack;
const manifest = parseManifest(await readFile(join(packDir, MANIFEST_FILE), 'utf8'), MANIFEST_FILE);
const [latentHeight, latentWidth] = (values.latent ?? '64x64').split('x').map(Number);
const shape = { batch: Number(values.batch ?? 1), latentHeight, latentWidth };
const budgets = (values.budgets ?? '1,2,4').split(',').map((gib) => Number(gib) * 2 ** 30);
const report = await trainingPlan(manifest, async (path) => new Uint8Array(await readFile(join(packDir, path))), shape, budgets, { fuseAttention: values.fused });
const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
console.log(`${manifest.family} ${shape.batch}x${latentHeight}x${latentWidth}${report.fuseAttention ? ', fused attention' : ''}: ${report.nodes} nodes; recorded tapes ${report.pieceTapeBytes.map(gib).join(' + ')}; values between pieces ${gib(report.flowBytes)}`);
console.table(report.rows.map((row) => ({ budget: row.budgetBytes === null ? 'none' : gib(row.budgetBytes), mode: row.mode, segments: row.segments.join('/'), 'estimated peak': gib(row.estimatedPeakBytes), fits: row.fitsBudget, 'forward nodes run per step': (1 + row.recomputeShare).toFixed(2) })));
