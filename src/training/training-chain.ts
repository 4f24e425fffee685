/**
 * A pack's UNet pieces (down -> mid -> up) as one differentiable function for training, under a
 * memory budget. Values flow between pieces by name (a down output can feed mid and up).
 *
 * When every piece's recorded tape fits the budget together, the forward records them all and
 * nothing is recomputed. Otherwise piece boundaries are cut points: the forward keeps only the
 * values flowing between pieces; the backward re-runs one piece at a time, itself cut into
 * recomputed segments when that piece's tape alone would pass the budget (remat-plan.ts).
 */
import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { graphLifetimes, planSegments, type GraphLifetimes, type SegmentPlan } from './remat-plan.ts';
import { forwardForTraining, type PiecePass } from './remat-pass.ts';
import type { PieceGraph } from '../autograd/executor.ts';
import { outputFreer } from './unet-pieces.ts';
import { GradientLedger } from '../autograd/gradient-ledger.ts';
import { InputError } from '../util/errors.ts';

export interface PieceChainOptions {
  /**
   * Bytes of activations (tapes, stored cut tensors, gradients in flight) one training step may hold on
   * top of the weights and the caller's inputs. Default: unlimited (everything recorded once).
   */
  memoryBudgetBytes?: number;
}

export interface ChainStepStats {
  /** 'recorded': one forward, all tapes held; 'recomputed': pieces re-run in backward. */
  mode: 'recorded' | 'recomputed';
  /** Segments per piece in backward (1: the piece is recomputed whole, or recorded). */
  segments: number[];
  /** Nodes run again during backward, over all pieces. */
  recomputedNodes: number;
  /** Highest pool bytes in use during the pass, above what was in use when it began. */
  peakBytes: number;
}

export interface ChainPass {
  /** Every value the pieces produced, by name (the final `out_sample` among them); the pass owns them. */
  readonly values: ReadonlyMap<string, GpuTensor>;
  /** dL/d(name) for the `wrt` names (chain inputs, parameters) the seeds reach; frees everything the pass held. */
  backward(seeds: ReadonlyMap<string, GpuTensor>, wrt: Iterable<string>): Map<string, GpuTensor>;
  readonly stats: ChainStepStats;
  dispose(): void;
}

interface ChainPiece {
  graph: PieceGraph;
  lifetimes: GraphLifetimes;
  plan: SegmentPlan;
}

export interface ChainPlan {
  mode: 'recorded' | 'recomputed';
  /** Bytes of the values flowing between pieces (held for the whole step in both modes). */
  flowBytes: number;
  /** Estimated bytes of all pieces' tapes recorded at once (the 'recorded' mode's need). */
  recordedBytes: number;
  lifetimes: GraphLifetimes[];
  /** The segment plan each piece is swept with. */
  plans: SegmentPlan[];
}

/**
 * Decides, from static shapes alone, how a step runs under `budgetBytes`: everything recorded
 * when all tapes and the flowing values fit; otherwise one piece at a time, each cut to fit what
 * the flowing values leave. Pure (no GPU): also what the planning report prints for packs too
 * large to run here.
 */
export function planChain(pieces: readonly Pick<PieceGraph, 'nodes' | 'inputs' | 'outputs'>[], budgetBytes: number): ChainPlan {
  if (!(budgetBytes > 0)) throw new InputError(`memoryBudgetBytes must be a positive number of bytes, got ${budgetBytes}`);
  const flowBytes = pieces.reduce((sum, piece) => sum + piece.outputs.reduce((s, o) => s + o.shape.reduce((a, b) => a * b, 1) * 4, 0), 0);
  const lifetimes = pieces.map((piece) => graphLifetimes(piece.nodes, piece.outputs.map((o) => o.name), piece.inputs));
  const wholes = lifetimes.map((l) => planSegments(l, Infinity));
  const recordedBytes = wholes.reduce((sum, plan) => sum + plan.estimatedPeakBytes, 0);
  const mode = flowBytes + recordedBytes <= budgetBytes ? 'recorded' : 'recomputed';
  const plans = mode === 'recorded' ? wholes : lifetimes.map((l) => planSegments(l, Math.max(budgetBytes - flowBytes, 0)));
  return { mode, flowBytes, recordedBytes, lifetimes, plans };
}

export class TrainingChain {
  private readonly pieces: ChainPiece[];
  readonly mode: 'recorded' | 'recomputed';
  /** Bytes of the values flowing between pieces (held for the whole step in both modes). */
  readonly flowBytes: number;

  constructor(
    private readonly ctx: GpuContext,
    graphs: readonly PieceGraph[],
    options: PieceChainOptions = {},
  ) {
    for (const graph of graphs) {
      const produced = new Set(graphs.slice(0, graphs.indexOf(graph)).flatMap((g) => g.outputs.map((o) => o.name)));
      for (const input of graph.inputs) if (!produced.has(input.name) && graphs.some((g) => g !== graph && g.outputs.some((o) => o.name === input.name))) throw new InputError(`${graph.file}: input "${input.name}" is made by a later piece`);
    }
    const plan = planChain(graphs, options.memoryBudgetBytes ?? Infinity);
    this.mode = plan.mode;
    this.flowBytes = plan.flowBytes;
    this.pieces = graphs.map((graph, i) => ({ graph, lifetimes: plan.lifetimes[i], plan: plan.plans[i] }));
  }

  /** The segment plan each piece is swept with. */
  get plans(): SegmentPlan[] {
    return this.pieces.map((p) => p.plan);
  }

  /**
   * Runs the pieces on `given` (sample, timestep, k_i/v_i ...; the caller's). Records GPU work
   * only; nothing is awaited.
   */
  forward(given: ReadonlyMap<string, GpuTensor>): ChainPass {
    const { ctx, pieces } = this;
    const watch = ctx.pool.watchPeak();
    const values = new Map(given);
    const produced = new Map<string, GpuTensor>();
    const freeOutput = outputFreer(pieces.map((p) => p.graph), given);
    const inputsOf = (graph: PieceGraph): Record<string, GpuTensor> =>
      Object.fromEntries(
        graph.inputs.map((input) => {
          const tensor = values.get(input.name);
          if (!tensor) throw new InputError(`${graph.file}: input "${input.name}" was not given and no earlier piece makes it`);
          return [input.name, tensor];
        }),
      );
    const passes: (PiecePass | null)[] = [];
    const stats: ChainStepStats = { mode: this.mode, segments: this.pieces.map((p) => p.plan.boundaries.length - 1), recomputedNodes: 0, peakBytes: 0 };
    let done = false;
    const finish = (): void => {
      done = true;
      for (const tensor of produced.values()) freeOutput(tensor);
      watch.stop();
      stats.peakBytes = watch.peakBytes - watch.startBytes;
    };
    try {
      for (const piece of this.pieces) {
        let outputs: Record<string, GpuTensor>;
        if (this.mode === 'recorded') {
          const pass = forwardForTraining(ctx, piece.graph, piece.lifetimes, piece.plan, inputsOf(piece.graph));
          passes.push(pass);
          outputs = pass.outputs;
        } else {
          outputs = piece.graph.forward(inputsOf(piece.graph)).outputs;
          passes.push(null);
        }
        for (const [name, tensor] of Object.entries(outputs)) {
          values.set(name, tensor);
          produced.set(name, tensor);
        }
        // Submitting returns the piece's uniform buffers to the pool (one per dispatch).
        ctx.flush();
      }
    } catch (error) {
      for (const pass of passes) pass?.dispose();
      finish();
      throw error;
    }
    return {
      values: produced,
      stats,
      dispose: () => {
        if (done) return;
        for (const pass of passes) pass?.dispose();
        finish();
      },
      backward: (seeds, wrtNames) => {
        if (done) throw new Error('TrainingChain: this pass was already swept or disposed');
        try {
          return sweep(seeds, wrtNames);
        } catch (error) {
          for (const pass of passes) if (pass) pass.dispose();
          throw error;
        } finally {
          finish();
        }
      },
    };

    function sweep(seeds: ReadonlyMap<string, GpuTensor>, wrtNames: Iterable<string>): Map<string, GpuTensor> {
      const wrt = new Set(wrtNames);
      const ledger = new GradientLedger(ctx, seeds);
      // Which chain values depend on what is asked for (a piece's outputs all do when any input does).
      const depends = new Set(wrt);
      for (const { graph } of pieces) {
        const reads = graph.inputs.some((i) => depends.has(i.name)) || graph.parameters.some((p) => depends.has(p.name));
        if (reads) for (const o of graph.outputs) depends.add(o.name);
      }
      for (let p = pieces.length - 1; p >= 0; p--) {
        const piece = pieces[p];
        const { graph } = piece;
        const pieceSeeds = ledger.seedsFor(graph.outputs.map((o) => o.name));
        const pieceWrt = [...graph.inputs, ...graph.parameters].map((v) => v.name).filter((name) => depends.has(name));
        let pass = passes[p];
        let rerun: Record<string, GpuTensor> | null = null;
        if (!pass && pieceSeeds.size > 0 && pieceWrt.length > 0) {
          pass = forwardForTraining(ctx, graph, piece.lifetimes, piece.plan, inputsOf(graph));
          rerun = pass.outputs as Record<string, GpuTensor>;
          stats.recomputedNodes += graph.nodes.length;
        }
        if (pass) {
          if (pieceSeeds.size > 0 && pieceWrt.length > 0) {
            stats.recomputedNodes += pass.recomputedNodes;
            const pieceGrads = pass.backward(pieceSeeds, pieceWrt);
            for (const [name, g] of pieceGrads) ledger.add(name, g);
          } else pass.dispose();
        }
        // A re-run's outputs duplicate the stored ones.
        for (const tensor of Object.values(rerun ?? {})) freeOutput(tensor);
        ledger.consume(pieceSeeds.keys());
        ctx.flush();
      }
      return ledger.take(wrt);
    }
  }
}
