/**
 * The forge's op decompositions compute what the torch modules compute: forged sub-graphs run in
 * onnxruntime-node against float64 CPU implementations of ResnetBlock2D, diffusers cross-attention
 * (with the transposed anonymous MatMul weights) and LayerNorm (opset 14 chain and opset 17 op).
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { GraphBuilder, type Scope } from '../../src/model/builders/graph-builder.ts';
import { attention, layerNorm } from '../../src/model/builders/layers.ts';
import { modelBytes } from '../../src/model/builders/model-file.ts';
import { renameLastOutput, resnetBlock } from '../../src/model/builders/unet.ts';
import { parameterValues } from '../../src/model/builders/weight-values.ts';
import { SeededRandom } from '../../src/util/random.ts';

const SEED = 7;

function params(graph: GraphBuilder): (name: string) => Float64Array {
  const byParam = new Map(graph.weights.map((w) => [w.param, w]));
  return (name) => {
    const spec = byParam.get(name);
    if (!spec) throw new Error(`no parameter ${name}`);
    return Float64Array.from(parameterValues(spec, SEED));
  };
}

async function run(graph: GraphBuilder, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(await modelBytes(graph, SEED, 'sub.onnx'));
  const out = await session.run(feeds);
  return out.y.data as Float32Array;
}

function build(opset: 14 | 17, body: (root: Scope, g: GraphBuilder) => string, outDims: number[]): GraphBuilder {
  const graph = new GraphBuilder('fp32', opset);
  renameLastOutput(graph, body(graph.root(), graph), 'y');
  graph.addOutput('y', graph.floatType, outDims);
  return graph;
}

function maxError(got: Float32Array, want: Float64Array): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  return worst;
}

// ---- float64 references -------------------------------------------------------------------

function groupNorm64(x: Float64Array, c: number, spatial: number, groups: number, eps: number, w: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  const per = (c / groups) * spatial;
  for (let g = 0; g < groups; g++) {
    let mean = 0;
    for (let i = 0; i < per; i++) mean += x[g * per + i];
    mean /= per;
    let variance = 0;
    for (let i = 0; i < per; i++) variance += (x[g * per + i] - mean) ** 2;
    variance /= per;
    for (let i = 0; i < per; i++) {
      const channel = Math.floor((g * per + i) / spatial);
      out[g * per + i] = ((x[g * per + i] - mean) / Math.sqrt(variance + eps)) * w[channel] + b[channel];
    }
  }
  return out;
}

const silu64 = (x: Float64Array): Float64Array => x.map((v) => v / (1 + Math.exp(-v)));

function conv64(x: Float64Array, cin: number, h: number, w: number, weight: Float64Array, bias: Float64Array, cout: number, k: number): Float64Array {
  const pad = (k - 1) >> 1;
  const out = new Float64Array(cout * h * w);
  for (let o = 0; o < cout; o++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) {
        let sum = bias[o];
        for (let i = 0; i < cin; i++)
          for (let dy = 0; dy < k; dy++)
            for (let dx = 0; dx < k; dx++) {
              const sy = y + dy - pad;
              const sx = xx + dx - pad;
              if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
              sum += weight[((o * cin + i) * k + dy) * k + dx] * x[(i * h + sy) * w + sx];
            }
        out[(o * h + y) * w + xx] = sum;
      }
  return out;
}

/** y[n, o] = sum_i x[n, i] W[o, i] (+ b[o]): torch Linear with its [out, in] weight. */
function linear64(x: Float64Array, rows: number, inF: number, weight: Float64Array, outF: number, bias?: Float64Array): Float64Array {
  const out = new Float64Array(rows * outF);
  for (let n = 0; n < rows; n++)
    for (let o = 0; o < outF; o++) {
      let sum = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) sum += x[n * inF + i] * weight[o * inF + i];
      out[n * outF + o] = sum;
    }
  return out;
}

function randomInput(length: number, seed: number): Float32Array {
  return new SeededRandom(seed).normalArray(length);
}

describe('forge decompositions match float64 references', () => {
  test('ResnetBlock2D with time embedding and conv_shortcut (GroupNorm via InstanceNormalization)', async () => {
    const [cin, cout, h, w, groups, timeDim] = [6, 10, 5, 7, 2, 12];
    const graph = build(14, (root, g) => {
      const x = g.addInput('x', g.floatType, [1, cin, h, w]);
      const temb = g.addInput('temb', g.floatType, [1, timeDim]);
      return resnetBlock(root.child('res'), x, temb, cin, cout, groups, 1e-5, timeDim);
    }, [1, cout, h, w]);
    const x = randomInput(cin * h * w, 1);
    const temb = randomInput(timeDim, 2);
    const got = await run(graph, { x: new ort.Tensor('float32', x, [1, cin, h, w]), temb: new ort.Tensor('float32', temb, [1, timeDim]) });

    const p = params(graph);
    const x64 = Float64Array.from(x);
    let hidden = silu64(groupNorm64(x64, cin, h * w, groups, 1e-5, p('res.norm1.weight'), p('res.norm1.bias')));
    hidden = conv64(hidden, cin, h, w, p('res.conv1.weight'), p('res.conv1.bias'), cout, 3);
    const t = linear64(silu64(Float64Array.from(temb)), 1, timeDim, p('res.time_emb_proj.weight'), cout, p('res.time_emb_proj.bias'));
    hidden = hidden.map((v, i) => v + t[Math.floor(i / (h * w))]);
    hidden = silu64(groupNorm64(hidden, cout, h * w, groups, 1e-5, p('res.norm2.weight'), p('res.norm2.bias')));
    hidden = conv64(hidden, cout, h, w, p('res.conv2.weight'), p('res.conv2.bias'), cout, 3);
    const shortcut = conv64(x64, cin, h, w, p('res.conv_shortcut.weight'), p('res.conv_shortcut.bias'), cout, 1);
    const want = hidden.map((v, i) => v + shortcut[i]);
    expect(maxError(got, want)).toBeLessThan(1e-5);
  });

  test('cross-attention (attn2): transposed onnx::MatMul weights, heads split, softmax', async () => {
    const [n, m, queryDim, contextDim, heads, headDim] = [9, 5, 12, 7, 3, 4];
    const inner = heads * headDim;
    const graph = build(14, (root, g) => {
      const x = g.addInput('x', g.floatType, [2, n, queryDim]);
      const context = g.addInput('context', g.floatType, [2, m, contextDim]);
      return attention(root.child('attn2'), x, context, { queryDim, contextDim, heads, headDim, qkvBias: false });
    }, [2, n, queryDim]);
    const x = randomInput(2 * n * queryDim, 3);
    const context = randomInput(2 * m * contextDim, 4);
    const got = await run(graph, {
      x: new ort.Tensor('float32', x, [2, n, queryDim]),
      context: new ort.Tensor('float32', context, [2, m, contextDim]),
    });

    const p = params(graph);
    const want = new Float64Array(2 * n * queryDim);
    for (let b = 0; b < 2; b++) {
      const xb = Float64Array.from(x.subarray(b * n * queryDim, (b + 1) * n * queryDim));
      const cb = Float64Array.from(context.subarray(b * m * contextDim, (b + 1) * m * contextDim));
      const q = linear64(xb, n, queryDim, p('attn2.to_q.weight'), inner);
      const k = linear64(cb, m, contextDim, p('attn2.to_k.weight'), inner);
      const v = linear64(cb, m, contextDim, p('attn2.to_v.weight'), inner);
      const merged = new Float64Array(n * inner);
      for (let head = 0; head < heads; head++)
        for (let i = 0; i < n; i++) {
          const scores = new Float64Array(m);
          for (let j = 0; j < m; j++) {
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += q[i * inner + head * headDim + d] * k[j * inner + head * headDim + d];
            scores[j] = dot / Math.sqrt(headDim);
          }
          const top = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - top));
          const total = e.reduce((a, b2) => a + b2, 0);
          for (let d = 0; d < headDim; d++) {
            let sum = 0;
            for (let j = 0; j < m; j++) sum += (e[j] / total) * v[j * inner + head * headDim + d];
            merged[i * inner + head * headDim + d] = sum;
          }
        }
      want.set(linear64(merged, n, inner, p('attn2.to_out.0.weight'), queryDim, p('attn2.to_out.0.bias')), b * n * queryDim);
    }
    expect(maxError(got, want)).toBeLessThan(1e-5);
    // The key projection is an anonymous initializer holding W_k transposed: [contextDim, inner].
    const toK = graph.nodes.find((node) => node.name === '/attn2/to_k/MatMul');
    const weight = graph.weights.find((w) => w.name === toK?.input[1]);
    expect(weight?.name).toMatch(/^onnx::MatMul_\d+$/);
    expect(weight?.dims).toEqual([contextDim, inner]);
  });

  test.each([14, 17] as const)('LayerNorm at opset %i', async (opset) => {
    const [rows, width] = [6, 10];
    const graph = build(opset, (root, g) => layerNorm(root.child('norm1'), g.addInput('x', g.floatType, [rows, width]), width, 1e-5), [rows, width]);
    expect(graph.nodes.some((node) => node.opType === 'LayerNormalization')).toBe(opset === 17);
    const x = randomInput(rows * width, 5);
    const got = await run(graph, { x: new ort.Tensor('float32', x, [rows, width]) });
    const p = params(graph);
    const [w, b] = [p('norm1.weight'), p('norm1.bias')];
    const want = new Float64Array(rows * width);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * width, (r + 1) * width));
      const mean = row.reduce((a, v) => a + v, 0) / width;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / width;
      for (let i = 0; i < width; i++) want[r * width + i] = ((row[i] - mean) / Math.sqrt(variance + 1e-5)) * w[i] + b[i];
    }
    expect(maxError(got, want)).toBeLessThan(1e-5);
  });
});
