/**
 * CLIP as a judge (zero-shot classification, as MACE evaluates real SD models) and as a CLIP
 * score, through transformers.js: CLIPTextModelWithProjection and CLIPVisionModelWithProjection
 * from a hub repo in transformers.js's layout (onnx/text_model.onnx, onnx/vision_model.onnx,
 * tokenizer.json, preprocessor_config.json). The class texts are embedded once per judge.
 *
 * Imported only on demand: transformers.js is a large bundle, and in the browser importing it
 * points the shared onnxruntime-web at a CDN for its wasm (harmless once the engine's ORT has
 * started, which loading a pack does).
 */
import { CLASS_SLOT } from '../protocol.ts';
import { softmax } from '../metrics.ts';
import type { Judge, JudgeImage, PromptScorer } from './judge.ts';

export interface ClipSource {
  /** Hub id, e.g. Xenova/clip-vit-base-patch32. */
  model: string;
  revision?: string;
  /** Another hub (a mirror, or the tests' local hub): `{endpoint}/{model}/resolve/{revision}/{file}`. */
  endpoint?: string;
}

type Transformers = typeof import('@huggingface/transformers');

interface ClipModels {
  embedTexts(texts: readonly string[]): Promise<Float64Array[]>;
  embedImages(images: readonly JudgeImage[]): Promise<Float64Array[]>;
  release(): Promise<void>;
}

async function loadClip(source: ClipSource): Promise<ClipModels> {
  const t: Transformers = await import('@huggingface/transformers');
  if (source.endpoint) t.env.remoteHost = source.endpoint.endsWith('/') ? source.endpoint : `${source.endpoint}/`;
  t.env.allowLocalModels = false;
  const options = { revision: source.revision ?? 'main' };
  const [tokenizer, processor, text, vision] = await Promise.all([
    t.AutoTokenizer.from_pretrained(source.model, options),
    t.AutoProcessor.from_pretrained(source.model, options),
    t.CLIPTextModelWithProjection.from_pretrained(source.model, { ...options, dtype: 'fp32' }),
    t.CLIPVisionModelWithProjection.from_pretrained(source.model, { ...options, dtype: 'fp32' }),
  ]);
  const rows = (tensor: { dims: number[]; data: ArrayLike<number> }, who: string): Float64Array[] => {
    const [count, width] = tensor.dims;
    if (tensor.dims.length !== 2) throw new Error(`CLIP ${source.model}: ${who} embeddings have dims [${tensor.dims.join(', ')}], expected [N, D]`);
    return Array.from({ length: count }, (_, i) => normalize(Float64Array.from({ length: width }, (_, j) => tensor.data[i * width + j])));
  };
  return {
    async embedTexts(texts) {
      const inputs = tokenizer([...texts], { padding: true, truncation: true });
      const { text_embeds } = await text(inputs);
      return rows(text_embeds, 'text');
    },
    async embedImages(images) {
      const raw = images.map((image) => new t.RawImage(new Uint8ClampedArray(image.rgba), image.width, image.height, 4).rgb());
      const inputs = await processor(raw);
      const { image_embeds } = await vision(inputs);
      return rows(image_embeds, 'image');
    },
    async release() {
      await Promise.all([text.dispose(), vision.dispose()]);
    },
  };
}

/** Zero-shot judge: softmax over classes of scale x cosine(image, "a photo of the {class}"). */
export async function createClipJudge(source: ClipSource, classes: readonly string[], options: { template: string; scale: number }): Promise<Judge> {
  if (!options.template.includes(CLASS_SLOT)) throw new Error(`CLIP judge: template "${options.template}" has no ${CLASS_SLOT} slot`);
  const clip = await loadClip(source);
  const classTexts = classes.map((c) => options.template.split(CLASS_SLOT).join(c));
  const textEmbeddings = await clip.embedTexts(classTexts);
  return {
    descriptor: { kind: 'clip', model: source.model, revision: source.revision ?? 'main', template: options.template, scale: options.scale },
    labels: [...classes],
    async classify(images) {
      const embeddings = await clip.embedImages(images);
      return embeddings.map((image) => softmax(textEmbeddings.map((text) => dot(image, text)), options.scale));
    },
    release: () => clip.release(),
  };
}

/** CLIP score (Hessel et al. 2021): 100 x max(cosine(image, prompt), 0) per image. */
export async function createClipScorer(source: ClipSource): Promise<PromptScorer> {
  const clip = await loadClip(source);
  return {
    model: source.model,
    async score(images, prompts) {
      if (images.length !== prompts.length) throw new Error(`CLIP score: ${images.length} images but ${prompts.length} prompts`);
      const [imageEmbeddings, textEmbeddings] = [await clip.embedImages(images), await clip.embedTexts(prompts)];
      return imageEmbeddings.map((image, i) => 100 * Math.max(0, dot(image, textEmbeddings[i])));
    },
    release: () => clip.release(),
  };
}

function normalize(v: Float64Array): Float64Array {
  const norm = Math.sqrt(dot(v, v)) || 1;
  for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}
