/**
 * A pack's UNet pieces loaded into the WGSL executor for one latent size and batch: the
 * manifest's symbolic dims (`batch_size`, `height_div8`, ...) become the static shapes the
 * executor folds with, and each piece's ONNX (with its external data) is read once.
 */
import { decodeModel } from '../formats/onnx/codec.ts';
import { externalDataFromBytes, inlineExternalData } from '../formats/onnx/external-data.ts';
import type { PackManifest, TensorDim, UnetPiece } from '../model/manifest.ts';
import type { PackReader } from '../model/pack-reader.ts';
import { InputError } from '../util/errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { loadPieceGraph, type LoadOptions, type PieceGraph } from '../autograd/executor.ts';

export interface UnetShape {
  batch: number;
  /** Latent height and width (image pixels / 8 in SD); each must divide by the UNet's total downsampling. */
  latentHeight: number;
  latentWidth: number;
}

/** The manifest's dim identifiers with `UnetShape` bound (see converter/shapes.ts renderDim). */
export function dimBindings(manifest: Pick<PackManifest, 'dims'>, shape: UnetShape): Record<string, number> {
  return { batch_size: shape.batch, steps: shape.batch, num_channels: manifest.dims.latentChannels, height: shape.latentHeight, width: shape.latentWidth };
}

/**
 * Evaluates a rendered dim: an integer, `one`, or factors `sym` / `sym_powN` joined by `_x_`, an
 * optional `_per_` denominator, then `_mulN` or `_divN`. The result must be a positive integer.
 */
export function concreteDim(dim: TensorDim, bindings: Readonly<Record<string, number>>, where: string): number {
  if (typeof dim === 'number') return dim;
  const coefficient = /^(.*)_(mul|div)(\d+)$/.exec(dim);
  const body = coefficient ? coefficient[1] : dim;
  const scale = coefficient ? (coefficient[2] === 'mul' ? Number(coefficient[3]) : 1 / Number(coefficient[3])) : 1;
  const [numerator, denominator = ''] = body.split('_per_');
  const product = (part: string): number =>
    part === '' || part === 'one'
      ? 1
      : part.split('_x_').reduce((acc, factor) => {
          const power = /^(.*)_pow(\d+)$/.exec(factor);
          const symbol = power ? power[1] : factor;
          const value = bindings[symbol];
          if (value === undefined) throw new InputError(`${where}: dim "${dim}" uses "${symbol}", which is not bound (bound: ${Object.keys(bindings).join(', ')})`);
          return acc * value ** (power ? Number(power[2]) : 1);
        }, 1);
  const value = (product(numerator) / product(denominator)) * scale;
  if (!(Number.isInteger(value) && value > 0)) throw new InputError(`${where}: dim "${dim}" is ${value} for ${JSON.stringify(bindings)}; expected a positive integer (is the latent size a multiple of the UNet's downsampling?)`);
  return value;
}

export function pieceInputShapes(piece: UnetPiece, bindings: Readonly<Record<string, number>>): Record<string, number[]> {
  return Object.fromEntries(piece.inputs.map((input) => [input.name, input.shape.map((d) => concreteDim(d, bindings, `${piece.file}: input "${input.name}"`))]));
}

export async function loadUnetPieces(ctx: GpuContext, manifest: Pick<PackManifest, 'dims' | 'pieces'>, read: PackReader['bytes'], shape: UnetShape, options: LoadOptions = {}): Promise<PieceGraph[]> {
  const bindings = dimBindings(manifest, shape);
  const graphs: PieceGraph[] = [];
  try {
    for (const piece of manifest.pieces) {
      const dir = piece.file.slice(0, piece.file.lastIndexOf('/') + 1);
      const model = await inlineExternalData(decodeModel(await read(piece.file), piece.file), piece.file, async (location) => externalDataFromBytes(await read(dir + location)));
      graphs.push(loadPieceGraph(ctx, model, pieceInputShapes(piece, bindings), piece.file, options));
    }
  } catch (error) {
    for (const graph of graphs) graph.release();
    throw error;
  }
  return graphs;
}

export interface PieceOutputs {
  /** Every piece output by name (`out_sample` among them). */
  readonly values: ReadonlyMap<string, GpuTensor>;
  /** Frees the outputs (through their owners: an output can be a view), never the caller's tensors or weights. */
  release(): void;
}

/**
 * Frees a piece output through its owner (an output can be a view of a tensor the piece made,
 * a final Reshape or Cast), unless it views what is not the pieces' to free: the caller's
 * `given` tensors or the weights.
 */
export function outputFreer(graphs: readonly PieceGraph[], given: ReadonlyMap<string, GpuTensor>): (output: GpuTensor) => void {
  const foreign = new Set<GPUBuffer>([...given.values(), ...graphs.flatMap((g) => [...g.constants.values()])].map((t) => t.buffer));
  return (output) => {
    if (!output.isReleased && !foreign.has(output.buffer)) output.releaseStorage();
  };
}

/** The pieces run in order on `given` (sample, timestep, K/V), nothing recorded: inference. */
export function runPieces(graphs: readonly PieceGraph[], given: ReadonlyMap<string, GpuTensor>): PieceOutputs {
  const values = new Map(given);
  const produced = new Map<string, GpuTensor>();
  const free = outputFreer(graphs, given);
  const release = (): void => {
    for (const tensor of produced.values()) free(tensor);
  };
  try {
    for (const graph of graphs) {
      const inputs = Object.fromEntries(
        graph.inputs.map((input) => {
          const tensor = values.get(input.name);
          if (!tensor) throw new InputError(`${graph.file}: input "${input.name}" was not given and no earlier piece makes it`);
          return [input.name, tensor];
        }),
      );
      for (const [name, tensor] of Object.entries(graph.forward(inputs).outputs)) {
        values.set(name, tensor);
        produced.set(name, tensor);
      }
    }
  } catch (error) {
    release();
    throw error;
  }
  return { values: produced, release };
}
