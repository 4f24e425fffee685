/**
 * Finds the cross-attention projections of a UNet export by NODE NAME, the way torch.onnx names
 * them after the diffusers module tree (`/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul`).
 * Initializer names are useless for this (`onnx::MatMul_1234`), so the weight is whatever
 * initializer the MatMul reads, stored transposed [in, out] (or behind a Transpose of [out, in]).
 */
import { externalDataRef, readTensorData, type OpenExternalData } from '../../formats/onnx/external-data.ts';
import { nodeLabel, producers } from '../../formats/onnx/graph.ts';
import { TensorDataType, type GraphProto, type NodeProto, type TensorProto } from '../../formats/onnx/types.ts';
import { FormatError } from '../../util/errors.ts';
import { isNumberDim, type ShapeInference } from './shapes.ts';

const ATTN2 = /^\/(down_blocks\.(\d+)|mid_block|up_blocks\.(\d+))\/attentions\.(\d+)\/transformer_blocks\.(\d+)\/attn2\//;
export const PROJECTION_PATTERN = '/{down_blocks.N|mid_block|up_blocks.N}/attentions.N/transformer_blocks.N/attn2/{to_k|to_v}/MatMul';

/** Where a projection's weight is, and how it is stored. */
export interface ProjectionSource {
  /** The MatMul node; its output becomes the k_<i> / v_<i> input. */
  node: NodeProto;
  output: string;
  weight: TensorProto;
  /** True when the initializer is [in, out] (the MatMul reads it directly); false for [out, in] behind a Transpose. */
  storedTransposed: boolean;
  /** torch layout [out, in]. */
  shape: [number, number];
}

export interface FoundLayer {
  /** diffusers module path, e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn2 */
  module: string;
  /** Node-name prefix, e.g. /down_blocks.0/attentions.0/transformer_blocks.0/attn2 */
  nodePrefix: string;
  /** Which UNet block the layer is in: down_blocks.N, mid_block, up_blocks.N. */
  block: string;
  toK: ProjectionSource;
  toV: ProjectionSource;
}

interface ModuleKey {
  nodePrefix: string;
  module: string;
  block: string;
  order: number[];
}

/** Every attn2 module named in the graph, in UNet module order (down blocks, mid block, up blocks). */
function attn2Modules(graph: GraphProto): ModuleKey[] {
  const found = new Map<string, ModuleKey>();
  for (const node of graph.node) {
    const m = node.name ? ATTN2.exec(node.name) : null;
    if (!m) continue;
    const nodePrefix = m[0].slice(0, -1);
    if (found.has(nodePrefix)) continue;
    const section = m[2] !== undefined ? 0 : m[1] === 'mid_block' ? 1 : 2;
    const blockIndex = Number(m[2] ?? m[3] ?? 0);
    found.set(nodePrefix, {
      nodePrefix,
      module: nodePrefix.slice(1).replaceAll('/', '.'),
      block: m[1],
      order: [section, blockIndex, Number(m[4]), Number(m[5])],
    });
  }
  return [...found.values()].sort((a, b) => {
    for (let i = 0; i < 4; i++) if (a.order[i] !== b.order[i]) return a.order[i] - b.order[i];
    return 0;
  });
}

/**
 * All attn2 layers with their to_k / to_v MatMuls. Each must read the text embedding (the graph
 * input `encoder_hidden_states`, possibly through Cast/Identity) and a constant weight; anything
 * else is an export this converter does not understand, and the error names the node it looked for.
 */
export function findCrossAttention(graph: GraphProto, file: string, embeddingInput = 'encoder_hidden_states'): FoundLayer[] {
  const modules = attn2Modules(graph);
  if (modules.length === 0)
    throw new FormatError(file, 'graph.node', `no cross-attention found: looked for nodes named ${PROJECTION_PATTERN}`);
  const byName = new Map(graph.node.filter((n) => n.name).map((n) => [n.name!, n]));
  const producer = producers(graph);
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  return modules.map((m) => {
    const projection = (which: 'to_k' | 'to_v'): ProjectionSource => {
      const name = `${m.nodePrefix}/${which}/MatMul`;
      const node = byName.get(name);
      if (node === undefined || node.opType !== 'MatMul')
        throw new FormatError(
          file,
          'graph.node',
          `no MatMul node named "${name}" (the ${which} projection of ${m.module}; expected ${PROJECTION_PATTERN})` +
            (node ? `; found a ${node.opType} node of that name` : ''),
        );
      let source = node.input[0];
      for (let p = producer.get(source); p && (p.opType === 'Cast' || p.opType === 'Identity'); p = producer.get(source)) source = p.input[0];
      if (source !== embeddingInput)
        throw new FormatError(file, name, `reads "${node.input[0]}", expected the text embedding "${embeddingInput}" (directly or through Cast)`);
      let weight = initializers.get(node.input[1]);
      let storedTransposed = true;
      const transpose = producer.get(node.input[1]);
      if (weight === undefined && transpose?.opType === 'Transpose') {
        const perm = transpose.attribute?.find((a) => a.name === 'perm')?.ints;
        if (perm === undefined || (perm[0] === 1 && perm[1] === 0)) {
          weight = initializers.get(transpose.input[0]);
          storedTransposed = false;
        }
      }
      if (weight === undefined || weight.dims?.length !== 2)
        throw new FormatError(file, name, `weight "${node.input[1]}" is not a 2-D initializer (or a Transpose of one)${transpose ? `; it comes from ${nodeLabel(transpose)}` : ''}`);
      if (weight.dataType !== TensorDataType.FLOAT && weight.dataType !== TensorDataType.FLOAT16)
        throw new FormatError(file, name, `weight "${weight.name}" has data type ${weight.dataType}; expected float32 or float16`);
      const [a, b] = weight.dims;
      return { node, output: node.output[0], weight, storedTransposed, shape: storedTransposed ? [b, a] : [a, b] };
    };
    return { module: m.module, nodePrefix: m.nodePrefix, block: m.block, toK: projection('to_k'), toV: projection('to_v') };
  });
}

/**
 * Heads of an attn2 layer: the third entry of the shape its K is reshaped to ([batch, -1, heads,
 * head_dim], as diffusers' attention processors split heads), or `fallback` when the graph does
 * not tell (e.g. from unet/config.json).
 */
export function headsOf(layer: FoundLayer, graph: GraphProto, shapes: ShapeInference, file: string, fallback?: number): number {
  const inner = layer.toK.shape[0];
  for (const node of graph.node) {
    if (node.opType !== 'Reshape' || node.input[0] !== layer.toK.output) continue;
    const target = shapes.value(node.input[1]);
    if (target?.length === 4 && isNumberDim(target[2]) && isNumberDim(target[3]) && target[2].coef * target[3].coef === inner) return target[2].coef;
  }
  if (fallback !== undefined && inner % fallback === 0) return fallback;
  throw new FormatError(
    file,
    `${layer.nodePrefix}/to_k/MatMul`,
    `cannot tell the number of heads: no Reshape of its output to [batch, -1, heads, head_dim] with constant heads, and no attention_head_dim in unet/config.json`,
  );
}

/** A projection's weight in torch layout [out, in], as raw little-endian bytes of its data type. */
export async function projectionWeightBytes(p: ProjectionSource, file: string, open: OpenExternalData): Promise<Uint8Array> {
  externalDataRef(p.weight, file); // validates the reference before reading
  const raw = await readTensorData(p.weight, file, open);
  if (!p.storedTransposed) return raw.slice();
  const [rows, cols] = p.weight.dims as [number, number]; // stored [in, out]
  const aligned = raw.slice().buffer;
  const transpose = <T extends Float32Array | Uint16Array>(from: T, to: T): Uint8Array => {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) to[c * rows + r] = from[r * cols + c];
    return new Uint8Array(to.buffer);
  };
  return p.weight.dataType === TensorDataType.FLOAT
    ? transpose(new Float32Array(aligned), new Float32Array(rows * cols))
    : transpose(new Uint16Array(aligned), new Uint16Array(rows * cols));
}
