/**
 * Turns a built graph into ONNX bytes, materializing one initializer at a time. With external
 * data the weights go to a sink as they are made (optimum's layout: one `model.onnx_data` next
 * to `model.onnx`, tensors of fewer than 1024 bytes kept inline as onnx.save_model does).
 */
import { encodeModel } from '../../formats/onnx/codec.ts';
import { DataLocation, type ModelProto, type TensorProto } from '../../formats/onnx/types.ts';
import type { GraphBuilder } from './graph-builder.ts';
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

export async function modelBytes(graph: GraphBuilder, seed: number, file: string, external?: ExternalData): Promise<Uint8Array> {
  const initializer: TensorProto[] = [];
  let offset = 0;
  for (const spec of graph.weights) {
    const raw = weightBytes(spec, seed, graph.floatType);
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
  const model: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: graph.opset }],
    producerName: 'lethe-forge',
    producerVersion: '1',
    docString: 'Seeded random weights in the layout of a diffusers/optimum ONNX export (Lethe forge).',
    graph: { name: 'main_graph', node: graph.nodes, initializer, input: graph.inputs, output: graph.outputs },
  };
  return encodeModel(model, file);
}
