/**
 * Gradients flowing backward through a sequence of stages (the segments of a piece, the pieces
 * of a chain): each stage takes the gradients of what it made as seeds, returns those of what it
 * read, and the ledger sums what several stages send to one name. Caller seeds stay the caller's;
 * every sum and every gradient a stage returned is the ledger's until handed out by `take`.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { binary } from '../gpu/kernels/binary.ts';

export class GradientLedger {
  private readonly grads: Map<string, GpuTensor>;
  private readonly callerSeeds: ReadonlySet<GpuTensor>;

  constructor(
    private readonly ctx: GpuContext,
    seeds: ReadonlyMap<string, GpuTensor>,
  ) {
    this.grads = new Map(seeds);
    this.callerSeeds = new Set(seeds.values());
  }

  /** The gradients that have arrived for these names: a stage's seeds. */
  seedsFor(names: Iterable<string>): Map<string, GpuTensor> {
    const seeds = new Map<string, GpuTensor>();
    for (const name of names) {
      const g = this.grads.get(name);
      if (g) seeds.set(name, g);
    }
    return seeds;
  }

  /** Adds a gradient a stage returned (the ledger owns it from here). */
  add(name: string, g: GpuTensor): void {
    const previous = this.grads.get(name);
    if (!previous) return void this.grads.set(name, g);
    this.grads.set(name, binary(this.ctx, 'add', previous, g.reshape(previous.shape)));
    this.free(previous);
    g.release();
  }

  /** A stage has used these seeds: they leave the ledger (freed unless the caller's). */
  consume(names: Iterable<string>): void {
    for (const name of names) {
      const g = this.grads.get(name);
      if (!g) continue;
      this.free(g);
      this.grads.delete(name);
    }
  }

  /** The gradients of `wanted` (now the caller's); everything else left is freed. */
  take(wanted: ReadonlySet<string>): Map<string, GpuTensor> {
    const result = new Map<string, GpuTensor>();
    for (const [name, g] of this.grads) {
      if (wanted.has(name)) result.set(name, g);
      else this.free(g);
    }
    this.grads.clear();
    return result;
  }

  private free(g: GpuTensor): void {
    if (!this.callerSeeds.has(g)) g.release();
  }
}
