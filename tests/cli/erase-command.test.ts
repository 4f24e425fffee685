import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { UsageError } from '../../src/cli/command.ts';
import { runErase, type EraseCommandIo, type EraseEngine } from '../../src/cli/commands/erase.ts';
import { editDumpFile } from '../../src/cli/commands/erase-files.ts';
import type { EditSummary, EraseRequest, PackSourceSpec } from '../../src/engine/api.ts';
import { solveLayerDirect, solveEditOperator } from '../../src/erasure/closed-form.ts';
import { buildErasureProblem, solveErasure, type ErasureContext } from '../../src/erasure/problem-builder.ts';
import { parseRecipe, serializeRecipe } from '../../src/erasure/recipe.ts';
import { readSafetensors, tensorToFloat32 } from '../../src/formats/safetensors/index.ts';
import type { CrossAttentionLayer } from '../../src/model/manifest.ts';
import { InputError } from '../../src/util/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { fakeTextEncoder } from '../erasure/fake-text-encoder.ts';

const WIDTH = 40;
const context: ErasureContext = { width: WIDTH, tokens: 77, packSha256: 'ef'.repeat(32), family: 'tiny-sd15' };
const MODULES = ['down_blocks.0.attentions.0.transformer_blocks.0.attn2', 'up_blocks.1.attentions.2.transformer_blocks.0.attn2'];
const OUT = [24, 56];

function layer(index: number): CrossAttentionLayer {
  const module = MODULES[index];
  const shape: [number, number] = [OUT[index], WIDTH];
  return { index, module, toK: { name: `${module}.to_k.weight`, shape }, toV: { name: `${module}.to_v.weight`, shape }, heads: 2, piece: 'unet', kInput: `k_${index}`, vInput: `v_${index}` };
}

/** The Engine's erase path without a GPU: the problem builder and the CPU solve, on fake weights. */
class FakeEngine implements EraseEngine {
  readonly layers = [layer(0), layer(1)];
  readonly host = this.layers.map((l, i) => ({
    toK: new SeededRandom(10 + i).normalArray(l.toK.shape[0] * WIDTH, 0.1),
    toV: new SeededRandom(20 + i).normalArray(l.toV.shape[0] * WIDTH, 0.1),
  }));
  loaded: PackSourceSpec | null = null;
  disposed = false;
  edit: ReturnType<EraseEngine['currentEdit']> = null;
  constructor(private readonly failErase = false) {}

  async loadPack(spec: PackSourceSpec) {
    this.loaded = spec;
    return { id: context.packSha256, family: 'tiny-sd15', dtype: 'fp32', description: 'fake', crossAttentionLayers: 2, latentSize: 8, bytes: 0, files: 0, downloadedBytes: 0, source: 'memory' };
  }

  async erase(request: EraseRequest): Promise<EditSummary> {
    if (this.failErase) throw new InputError('erase failed on purpose');
    const built = await buildErasureProblem(request, fakeTextEncoder(WIDTH), context);
    const solved = solveErasure(built);
    this.edit = { operator: solved.operator, problem: built.problem, recipe: solved.recipe };
    const recipe = serializeRecipe(solved.recipe);
    return {
      id: createHash('sha256').update(recipe).digest('hex'),
      recipe,
      eraseVectors: built.stats.eraseVectors,
      preserveVectors: built.stats.preserveVectors,
      rank: solved.operator.rank,
      neighbors: built.stats.neighbors,
      beyond: built.stats.beyond,
      solver: solved.operator.solver,
      ms: { encode: built.ms.encode, sample: built.ms.sample, solve: solved.ms, total: 0 },
    };
  }

  currentEdit() {
    return this.edit;
  }

  crossAttentionHostWeights() {
    return { layers: this.layers, host: this.host };
  }

  dispose() {
    this.disposed = true;
  }
}

function harness(engine: FakeEngine, texts: Record<string, string> = {}) {
  const written = new Map<string, Uint8Array | string>();
  const logs: string[] = [];
  let created = 0;
  const io: EraseCommandIo = {
    createEngine: async () => {
      created++;
      return engine;
    },
    readText: (path) => {
      if (!(path in texts)) throw new Error(`ENOENT ${path}`);
      return texts[path];
    },
    writeFile: (path, data) => written.set(path, data),
    log: (line) => logs.push(line),
    progress: () => {},
  };
  return { io, written, logs, created: () => created };
}

const relativeError = (got: Float32Array, want: ArrayLike<number>): number => {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < got.length; i++) {
    diff += (got[i] - want[i]) ** 2;
    norm += want[i] ** 2;
  }
  return Math.sqrt(diff / norm);
};

describe('lethe erase (engine faked, files real)', () => {
  test('writes the recipe, W\' = W M for every projection under its diffusers name, and the dump', async () => {
    const engine = new FakeEngine();
    const { io, written, logs } = harness(engine, { 'keep.txt': 'horse\n# comment\nship\n' });
    const code = await runErase(
      ['--pack', '/packs/tiny', '--concept', 'dog', '--anchor', 'cat', '--coref', 'puppy', '--retain', 'frog', '--preserve-file', 'keep.txt',
        '--method', 'realera', '--seed', '9', '--lambda', '0.4', '--erase-scale', '2', '--preserve-scale', '3', '--tokens', 'last', '--out', 'r.json', '--weights', 'w.safetensors', '--dump', 'd.safetensors'],
      io,
    );
    expect(code).toBe(0);
    expect(engine.loaded).toEqual({ kind: 'path', path: '/packs/tiny' });
    expect(engine.disposed).toBe(true);

    const recipe = parseRecipe(written.get('r.json') as string, 'r.json');
    expect(recipe.concepts.preserve.map((p) => p.concept)).toEqual(['horse', 'ship']);
    expect(recipe.realera!.seed).toBe(9);
    expect(recipe.closedForm).toMatchObject({ lambda: 0.4, eraseScale: 2, preserveScale: 3 });
    expect(logs.join('\n')).toMatch(/RealEra neighbors \d+, beyond \d+/);

    const problem = engine.edit!.problem;
    const weights = readSafetensors(written.get('w.safetensors') as Uint8Array, 'w.safetensors');
    expect([...weights.tensors.keys()]).toEqual(MODULES.flatMap((m) => [`${m}.to_k.weight`, `${m}.to_v.weight`]));
    expect(weights.metadata.lethe_recipe).toBe(written.get('r.json'));
    engine.layers.forEach((l, i) => {
      for (const [name, w] of [[l.toK.name, engine.host[i].toK], [l.toV.name, engine.host[i].toV]] as const) {
        const tensor = weights.tensors.get(name)!;
        expect(tensor.shape).toEqual([OUT[i], WIDTH]);
        // Against the per-layer UCE solve, which shares nothing with W M but the Cholesky routine.
        expect(relativeError(tensorToFloat32(tensor, 'w'), solveLayerDirect(problem, w, OUT[i]))).toBeLessThan(1e-5);
      }
    });

    const dump = readSafetensors(written.get('d.safetensors') as Uint8Array, 'd.safetensors');
    const get = (name: string) => tensorToFloat32(dump.tensors.get(name)!, 'd');
    const nE = problem.erase.length;
    const nP = problem.preserve!.length;
    expect([...dump.tensors.keys()]).toEqual(['erase', 'erase_target', 'preserve', 'erase_scale', 'preserve_scale', 'lambda', 'M']);
    expect(dump.tensors.get('erase')!.shape).toEqual([nE, WIDTH]);
    expect(dump.tensors.get('preserve')!.shape).toEqual([nP, WIDTH]);
    expect(dump.tensors.get('M')!.shape).toEqual([WIDTH, WIDTH]);
    expect(Array.from(get('erase'))).toEqual(problem.erase.flatMap((c) => Array.from(Float32Array.from(c.input as Float64Array))));
    expect(Array.from(get('erase_target'))).toEqual(problem.erase.flatMap((c) => Array.from(Float32Array.from(c.target as Float64Array))));
    expect(Array.from(get('preserve'))).toEqual(problem.preserve!.flatMap((c) => Array.from(Float32Array.from(c.input as Float64Array))));
    expect(Array.from(get('erase_scale'))).toEqual(problem.erase.map((c) => Math.fround(c.scale!)));
    expect(Array.from(get('preserve_scale'))).toEqual(problem.preserve!.map((c) => Math.fround(c.scale!)));
    // Every weight here is 1: the scales are the flags' values.
    expect(new Set(get('erase_scale'))).toEqual(new Set([2]));
    expect(new Set(get('preserve_scale'))).toEqual(new Set([3]));
    expect(Array.from(get('lambda'))).toEqual([Math.fround(0.4)]);
    // The dumped M reproduces the written weights: W' = W M.
    const m = get('M');
    const w = engine.host[1].toK;
    const product = new Float64Array(OUT[1] * WIDTH);
    for (let o = 0; o < OUT[1]; o++) for (let i = 0; i < WIDTH; i++) for (let j = 0; j < WIDTH; j++) product[o * WIDTH + j] += w[o * WIDTH + i] * m[i * WIDTH + j];
    expect(relativeError(tensorToFloat32(weights.tensors.get(engine.layers[1].toK.name)!, 'w'), product)).toBeLessThan(1e-5);
  });

  test('usage errors stop before an engine is made; a failing erase still disposes the engine', async () => {
    const engine = new FakeEngine();
    const first = harness(engine);
    await expect(runErase(['--pack', 'p', '--out', 'r.json', '--concept', 'dog', '--tokens', 'some'], first.io)).rejects.toThrow(UsageError);
    expect(first.created()).toBe(0);
    const failing = new FakeEngine(true);
    const second = harness(failing);
    await expect(runErase(['--pack', 'p', '--out', 'r.json', '--concept', 'dog'], second.io)).rejects.toThrow(/on purpose/);
    expect(failing.disposed).toBe(true);
    expect(second.written.size).toBe(0);
  });

  test('without --weights/--dump only the recipe is written', async () => {
    const { io, written } = harness(new FakeEngine());
    expect(await runErase(['--pack', 'p', '--out', 'r.json', '--concept', 'dog', '--kind', 'object'], io)).toBe(0);
    expect([...written.keys()]).toEqual(['r.json']);
  });

  test('dump writer checks the operator against the problem', () => {
    const problem = { width: 3, erase: [{ input: [1, 0, 0], target: [0, 1, 0] }] };
    const other = solveEditOperator({ width: 3, erase: [{ input: [1, 0, 0], target: [0, 1, 0] }, { input: [0, 0, 1], target: [0, 1, 0] }] });
    expect(() => editDumpFile(other, problem, { recipe: '{}', editId: 'x' })).toThrow(/rank 2/);
  });
});
