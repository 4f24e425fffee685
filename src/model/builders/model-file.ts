/**
 * Turns a built graph into ONNX bytes, materializing one initializer at a time. With external
 * data the weights go to a sink as they are made (optimum's layout: one `model.onnx_data` next
 * to `model.onnx`, tensors of fewer than 1024 bytes kept inline as onnx.save_model does).
 */
import { encodeModel } from '../../formats/onnx/codec.ts';
import { DataLocation, type ModelProto, type TensorProto } from '../../formats/onnx/types.ts';
import type { GraphBuilder, WeightSpec } from './graph-builder.ts';
import { weightBytes } from './weight-values.ts';

/** Receives the external data file in order, chunk by chunk. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
}

export interface ExternalData {
  /** File name written into each tensor's `location`, relative to the model file. */
  location: string;
  sink: ByteSink;
}

/** onnx.save_model's default size_threshold: smaller tensors stay in the model file. */
export const EXTERNAL_SIZE_THRESHOLD = 1024;

/** The stored bytes of one initializer, in the graph's float type and stored layout. */
export type WeightProvider = (spec: WeightSpec) => Uint8Array | Promise<Uint8Array>;

/** Seeded random values (the forge's weights; tests and the demo use them). */
export function seededWeights(seed: number, elemType: number): WeightProvider {
  return (spec) => weightBytes(spec, seed, elemType);
}

export async function modelBytes(graph: GraphBuilder, seed: number, file: string, external?: ExternalData): Promise<Uint8Array> {
  return modelBytesFrom(graph, seededWeights(seed, graph.floatType), file, external);
}

/** As modelBytes, with the weights taken from `weights` (a diffusers checkpoint, for instance). */
export async function modelBytesFrom(graph: GraphBuilder, weights: WeightProvider, file: string, external?: ExternalData): Promise<Uint8Array> {
  const initializer: TensorProto[] = [];
  let offset = 0;
  for (const spec of graph.weights) {
    const raw = await weights(spec);
    const expected = storedByteLength(spec, graph);
    if (raw.byteLength !== expected) throw new Error(`${file}: weight ${spec.param} has ${raw.byteLength} bytes, its dims [${spec.dims.join(', ')}] need ${expected}`);
    const tensor: TensorProto = { name: spec.name, dims: spec.dims, dataType: graph.floatType };
    if (external && raw.byteLength >= EXTERNAL_SIZE_THRESHOLD) {
      await external.sink.write(raw);
      tensor.dataLocation = DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: external.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.byteLength) },
      ];
      offset += raw.byteLength;
    } else {
      tensor.rawData = raw;
    }
    initializer.push(tensor);
  }
  return encodeModel(modelProto(graph, initializer), file);
}

/** Where one initializer's bytes lie in the external data file. */
export interface ExternalPlacement {
  spec: WeightSpec;
  offset: number;
  length: number;
}

/**
 * The model file of an export whose external data is laid out but not yet written: tensors of
 * EXTERNAL_SIZE_THRESHOLD bytes or more point into `location` at consecutive offsets (the layout
 * modelBytes writes), smaller ones are inline and come from `smallWeights` now. Whoever serves
 * `location` produces each placement's bytes when they are asked for.
 */
export async function modelWithExternalLayout(
  graph: GraphBuilder,
  smallWeights: WeightProvider,
  file: string,
  location: string,
): Promise<{ model: Uint8Array; placements: ExternalPlacement[]; dataBytes: number }> {
  const initializer: TensorProto[] = [];
  const placements: ExternalPlacement[] = [];
  let offset = 0;
  for (const spec of graph.weights) {
    const length = storedByteLength(spec, graph);
    const tensor: TensorProto = { name: spec.name, dims: spec.dims, dataType: graph.floatType };
    if (length >= EXTERNAL_SIZE_THRESHOLD) {
      tensor.dataLocation = DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ];
      placements.push({ spec, offset, length });
      offset += length;
    } else {
      const raw = await smallWeights(spec);
      if (raw.byteLength !== length) throw new Error(`${file}: weight ${spec.param} has ${raw.byteLength} bytes, its dims [${spec.dims.join(', ')}] need ${length}`);
      tensor.rawData = raw;
    }
    initializer.push(tensor);
  }
  return { model: encodeModel(modelProto(graph, initializer), file), placements, dataBytes: offset };
}

/** Bytes of an initializer as stored: product of its dims times the element size of the graph's float type. */
export function storedByteLength(spec: WeightSpec, graph: GraphBuilder): number {
  return spec.dims.reduce((a, b) => a * b, 1) * (graph.dtype === 'fp16' ? 2 : 4);
}

function modelProto(graph: GraphBuilder, initializer: TensorProto[]): ModelProto {
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: graph.opset }],
    producerName: 'lethe-forge',
    producerVersion: '1',
    docString: 'Seeded random weights in the layout of a diffusers/optimum ONNX export (Lethe forge).',
    graph: { name: 'main_graph', node: graph.nodes, initializer, input: graph.inputs, output: graph.outputs },
  };
}
