import { attr, GraphBuilder } from '../../src/model/builders/graph-builder.ts';
import { modelBytes } from '../../src/model/builders/model-file.ts';
import { storedValues } from '../../src/model/builders/weight-values.ts';
import { TensorDataType } from '../../src/formats/onnx/types.ts';

/** Labels of the stand-in, in world.json's order (the real classifier's contract). */
export const STAND_IN_OBJECTS = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const STAND_IN_STYLES = ['plain', 'pixel art', 'pencil sketch', 'neon'];

/** Pooling cell: 64x64 pixels become 8x8 cells per channel, 192 features. */
const CELL = 8;
const FEATURES = 3 * (64 / CELL) * (64 / CELL);

export interface StandInJudge {
  onnx: Uint8Array;
  /** judge.json as the concept-world trainer writes it: the label order of both heads. */
  json: { outputs: { object_logits: string[]; style_logits: string[] } };
  /** The same label order as the judge takes it. */
  labels: { objects: string[]; styles: string[] };
  /** The stored weights, for a float64 reference of the graph. */
  weights: { objects: Float32Array; objectBias: Float32Array; styles: Float32Array };
}

/**
 * A random classifier with the concept-world judge's contract ("pixels" float32 [N,3,64,64] in
 * [0,1] -> "object_logits" [N,10], "style_logits" [N,4]): 8x8 average pooling, then one linear
 * layer per head. Its answers mean nothing; the path through ORT, the contract and the numbers'
 * bookkeeping are real.
 */
export async function forgeStandInJudge(seed = 7): Promise<StandInJudge> {
  const graph = new GraphBuilder('fp32', 17);
  const root = graph.root();
  const pixels = graph.addInput('pixels', TensorDataType.FLOAT, ['N', 3, 64, 64]);
  const pooled = root.child('pool').op('AveragePool', [pixels], { kernel_shape: attr.ints([CELL, CELL]), strides: attr.ints([CELL, CELL]) });
  const flat = root.child('pool').op('Flatten', [pooled], { axis: attr.int(1) });
  const objectHead = root.child('object_head');
  const objectW = objectHead.anonymous('MatMul', 'weight', [10, FEATURES], [FEATURES, 10], { kind: 'normal', std: 3 }, true);
  const objectB = objectHead.param('bias', [10], { kind: 'normal', std: 0.5 });
  const objectLogits = objectHead.op('Add', [objectHead.op('MatMul', [flat, objectW]), objectB], {}, 'object_logits');
  const styleHead = root.child('style_head');
  const styleW = styleHead.anonymous('MatMul', 'weight', [4, FEATURES], [FEATURES, 4], { kind: 'normal', std: 3 }, true);
  styleHead.op('MatMul', [flat, styleW], {}, 'style_logits');
  graph.addOutput(objectLogits, TensorDataType.FLOAT, ['N', 10]);
  graph.addOutput('style_logits', TensorDataType.FLOAT, ['N', 4]);
  const onnx = await modelBytes(graph, seed, 'judge.onnx');
  const spec = (param: string) => graph.weights.find((w) => w.param === param)!;
  return {
    onnx,
    json: { outputs: { object_logits: [...STAND_IN_OBJECTS], style_logits: [...STAND_IN_STYLES] } },
    labels: { objects: [...STAND_IN_OBJECTS], styles: [...STAND_IN_STYLES] },
    weights: { objects: storedValues(spec('object_head.weight'), seed), objectBias: storedValues(spec('object_head.bias'), seed), styles: storedValues(spec('style_head.weight'), seed) },
  };
}

/** The stand-in's object logits in float64 for planar [3,64,64] pixels (the test's reference). */
export function standInObjectLogits(judge: StandInJudge, planar: Float64Array | Float32Array): number[] {
  const features = new Float64Array(FEATURES);
  const cells = 64 / CELL;
  for (let c = 0; c < 3; c++)
    for (let cy = 0; cy < cells; cy++)
      for (let cx = 0; cx < cells; cx++) {
        let sum = 0;
        for (let y = 0; y < CELL; y++) for (let x = 0; x < CELL; x++) sum += planar[c * 4096 + (cy * CELL + y) * 64 + cx * CELL + x];
        features[c * cells * cells + cy * cells + cx] = sum / (CELL * CELL);
      }
  return Array.from({ length: 10 }, (_, k) => {
    let v = judge.weights.objectBias[k];
    for (let f = 0; f < FEATURES; f++) v += features[f] * judge.weights.objects[f * 10 + k];
    return v;
  });
}
