import type { OnnxRunner } from '../../pipeline/onnx/runner.ts';
import { readFloat32 } from '../../pipeline/onnx/runner.ts';
import { FormatError } from '../../util/errors.ts';
import { sha256Hex } from '../../util/sha256.ts';
import { softmax } from '../metrics.ts';
import type { Judge, JudgeImage } from './judge.ts';
import { toPlanarRgb } from './resize.ts';

/** The classifier's contract: "pixels" float32 [N,3,64,64] RGB in [0,1]; object and style logits. */
export const CONCEPT_WORLD_INPUT = 'pixels';
export const CONCEPT_WORLD_SIZE = 64;

/** The label order of the classifier's two heads (world.json's objects and styles). */
export interface ConceptWorldLabels {
  objects: string[];
  styles: string[];
}

export interface ConceptWorldJudgeOptions {
  /** Which head answers (default: objects). */
  head?: 'object_logits' | 'style_logits';
  /** Images per ORT run. */
  batch?: number;
  /** For error messages. */
  file?: string;
}

/**
 * The concept world's own classifier as a judge: ONNX through the engine's runner
 * (onnxruntime-web in the browser worker, onnxruntime-node in Node), softmax of the chosen head.
 */
export async function createConceptWorldJudge(runner: OnnxRunner, model: Uint8Array, labels: ConceptWorldLabels, options: ConceptWorldJudgeOptions = {}): Promise<Judge> {
  const file = options.file ?? 'judge.onnx';
  const head = options.head ?? 'object_logits';
  const batch = options.batch ?? 16;
  const sha256 = await sha256Hex(model);
  const session = await runner.createSession({ name: file, model });
  if (!session.inputNames.includes(CONCEPT_WORLD_INPUT)) throw new FormatError(file, 'inputs', `expected an input "${CONCEPT_WORLD_INPUT}" ([N,3,64,64] RGB in [0,1]), the graph has ${session.inputNames.join(', ')}`);
  if (!session.outputNames.includes(head)) throw new FormatError(file, 'outputs', `expected an output "${head}", the graph has ${session.outputNames.join(', ')}`);
  const names = head === 'object_logits' ? labels.objects : labels.styles;
  const size = CONCEPT_WORLD_SIZE;
  return {
    descriptor: { kind: 'concept-world', sha256, head, inputSize: size },
    labels: names,
    async classify(images: readonly JudgeImage[]) {
      const out: number[][] = [];
      for (let start = 0; start < images.length; start += batch) {
        const chunk = images.slice(start, start + batch);
        const pixels = new Float32Array(chunk.length * 3 * size * size);
        chunk.forEach((image, i) => toPlanarRgb(image, size, pixels, i * 3 * size * size));
        const input = runner.hostTensor('float32', pixels, [chunk.length, 3, size, size]);
        const results = await session.run({ [CONCEPT_WORLD_INPUT]: input }, [head]);
        const logits = await readFloat32(results[head]);
        const dims = results[head].dims;
        if (dims.length !== 2 || dims[0] !== chunk.length || dims[1] !== names.length) {
          throw new FormatError(file, head, `expected logits [${chunk.length}, ${names.length}] (one per ${head === 'object_logits' ? 'object' : 'style'} of world.json), got [${dims.join(', ')}]`);
        }
        for (let i = 0; i < chunk.length; i++) out.push(softmax(logits.subarray(i * names.length, (i + 1) * names.length)));
      }
      return out;
    },
    async release() {
      await session.release();
    },
  };
}

/**
 * The label order of the classifier's heads. judge.json (as the concept-world trainer writes it)
 * lists them under `outputs`: `{ "outputs": { "object_logits": [...], "style_logits": [...] } }`;
 * world.json has `objects` and `styles`, each a list of names or of `{ name }` objects. Anything
 * else is refused with the field named.
 */
export function parseConceptWorldLabels(json: unknown, file: string): ConceptWorldLabels {
  if (typeof json !== 'object' || json === null) throw new FormatError(file, '(root)', 'expected a JSON object with "outputs" (judge.json) or "objects" and "styles" (world.json)');
  const record = json as Record<string, unknown>;
  const outputs = record.outputs;
  const fromOutputs = typeof outputs === 'object' && outputs !== null;
  const source = fromOutputs ? (outputs as Record<string, unknown>) : record;
  const names = (field: string): string[] => {
    const list = source[field];
    const path = fromOutputs ? `outputs.${field}` : field;
    if (!Array.isArray(list) || list.length === 0) throw new FormatError(file, path, 'expected a non-empty list of class names');
    return list.map((item, i) => {
      const name = typeof item === 'string' ? item : typeof item === 'object' && item !== null ? (item as { name?: unknown }).name : undefined;
      if (typeof name !== 'string' || name === '') throw new FormatError(file, `${path}[${i}]`, 'expected a name (a string or { "name": string })');
      return name;
    });
  };
  return fromOutputs ? { objects: names('object_logits'), styles: names('style_logits') } : { objects: names('objects'), styles: names('styles') };
}
