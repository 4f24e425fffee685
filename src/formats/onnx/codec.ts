/**
 * ONNX model bytes <-> ModelProto plain objects, with protobufjs doing the wire format.
 *
 * decodeModel trusts nothing: protobufjs checks every length against the buffer, its errors
 * (and any other failure) come out as FormatError naming the file, and the result goes through
 * validateModel. int64 values beyond +-2^53 are rejected rather than rounded.
 *
 * Bytes fields (raw_data, attribute s/strings) of a decoded model are VIEWS into the input
 * buffer, not copies: a 1.7 GB UNet is not duplicated, but the input must not be modified while
 * the model is in use, and a small tensor keeps the whole buffer alive (copy it with .slice()
 * to let the buffer go). Their byteOffset is arbitrary: use tensor.ts to get aligned arrays.
 */
import { FormatError } from '../../util/errors.ts';
import { onnxModelType } from './schema.ts';
import type { ModelProto } from './types.ts';
import { validateModel } from './validate.ts';

/** protobuf messages are limited to 2 GiB - 1 (lengths are int32 in the reference runtime). */
export const MAX_PROTOBUF_BYTES = 0x7fffffff;

export function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new FormatError(file, 'bytes', 'expected a Uint8Array');
  if (bytes.byteLength > MAX_PROTOBUF_BYTES)
    throw new FormatError(file, 'size', `${bytes.byteLength} bytes exceeds the 2 GiB protobuf limit; weights belong in external data`);
  if (bytes.byteLength === 0) throw new FormatError(file, 'size', 'empty file');
  try {
    const type = onnxModelType();
    // A plain Uint8Array (not a Node Buffer) makes protobufjs return plain Uint8Array views for bytes.
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const message = type.decode(view);
    const object: unknown = type.toObject(message, { longs: Number });
    return validateModel(object, file);
  } catch (error) {
    if (error instanceof FormatError) throw error;
    // protobufjs throws RangeError/Error for truncation, bad wire types, bad varints, bad UTF-8
    // lengths; a hostile nesting depth overflows the stack. All mean: not a valid ONNX file.
    const detail = error instanceof Error ? error.message : String(error);
    throw new FormatError(file, 'protobuf', `not a valid ONNX ModelProto (${detail})`);
  }
}

/**
 * Serializes a model (validated first, so a bad model fails here, not in onnxruntime).
 * `file` only names the model in errors.
 */
export function encodeModel(model: ModelProto, file = 'model.onnx'): Uint8Array {
  const writer = onnxModelType().encode(validateModel(model, file));
  if (writer.len > MAX_PROTOBUF_BYTES)
    throw new FormatError(file, 'size', `${writer.len} bytes exceeds the 2 GiB protobuf limit; move initializers to external data`);
  const out = writer.finish();
  return out.constructor === Uint8Array ? out : new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
