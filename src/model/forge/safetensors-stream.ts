/**
 * A safetensors file written as a stream: the header is computed from names, dtypes and shapes
 * alone, then each tensor's bytes follow in header order. The in-memory writer in
 * src/formats/safetensors holds the whole file; a forged sd15-shapes UNet is 3.4 GB in fp32.
 */
export interface StreamedTensor {
  name: string;
  dtype: 'F32' | 'F16';
  shape: readonly number[];
}

/** torch's save_file records the framework; diffusers and transformers files carry it. */
const METADATA = { format: 'pt' };

/** Header bytes (length prefix included) and the byte length each tensor must then be written with. */
export function safetensorsStreamHeader(tensors: readonly StreamedTensor[]): { header: Uint8Array; lengths: number[] } {
  const parts = [`"__metadata__":${JSON.stringify(METADATA)}`];
  const lengths: number[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const tensor of tensors) {
    if (names.has(tensor.name)) throw new Error(`forge: safetensors tensor ${tensor.name} listed twice`);
    names.add(tensor.name);
    const length = tensor.shape.reduce((a, b) => a * b, 1) * (tensor.dtype === 'F32' ? 4 : 2);
    parts.push(`${JSON.stringify(tensor.name)}:${JSON.stringify({ dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + length] })}`);
    lengths.push(length);
    offset += length;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + headerLength).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(headerLength), true);
  header.set(json, 8);
  return { header, lengths };
}
