/**
 * Writes a piece's initializers to its own external data file without holding the UNet's weights:
 * the layout (offsets, 4096-byte aligned as ONNX recommends) is computed from the tensors' dims,
 * and the data file is produced as an async stream that reads each tensor by byte range from the
 * export's model.onnx_data only when the sink asks for it.
 */
import { readTensorData, type OpenExternalData } from '../../formats/onnx/external-data.ts';
import { isExternal, tensorByteLength } from '../../formats/onnx/tensor.ts';
import { DataLocation, type ModelProto, type TensorProto } from '../../formats/onnx/types.ts';

export interface PieceData {
  /** The model, every large or external initializer pointing into `location`. */
  model: ModelProto;
  /** Bytes of the data file (0: no data file needed). */
  dataSize: number;
  /** The data file's content, read lazily. */
  chunks(): AsyncGenerator<Uint8Array>;
}

export interface PieceDataOptions {
  /** Data file name relative to the model, e.g. `down.onnx.data`. */
  location: string;
  /** Reads the source model's external data (the export's `model.onnx_data`). */
  open: OpenExternalData;
  /** The source model's name, for errors. */
  file: string;
  /** Inline initializers of this many bytes or more move out too (default 1024, as onnx.save does). */
  threshold?: number;
  alignment?: number;
}

export function planPieceData(model: ModelProto, options: PieceDataOptions): PieceData {
  const threshold = options.threshold ?? 1024;
  const alignment = options.alignment ?? 4096;
  const placed: { tensor: TensorProto; offset: number; length: number }[] = [];
  let size = 0;
  const initializer = model.graph.initializer.map((tensor) => {
    const length = tensorByteLength(tensor, options.file);
    // External tensors always move: their old location is the export's data file, not the pack's.
    if (!isExternal(tensor) && length < threshold) return tensor;
    const offset = Math.ceil(size / alignment) * alignment;
    placed.push({ tensor, offset, length });
    size = offset + length;
    const { rawData: _r, floatData: _f, int32Data: _i, int64Data: _l, doubleData: _d, uint64Data: _u, externalData: _e, ...rest } = tensor;
    return {
      ...rest,
      dataLocation: DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: options.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    };
  });
  return {
    model: { ...model, graph: { ...model.graph, initializer } },
    dataSize: size,
    async *chunks() {
      let written = 0;
      for (const { tensor, offset } of placed) {
        if (offset > written) yield new Uint8Array(offset - written);
        const bytes = await readTensorData(tensor, options.file, options.open);
        yield bytes;
        written = offset + bytes.byteLength;
      }
    },
  };
}
