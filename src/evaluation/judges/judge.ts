/** An image as the engine returns it: RGBA bytes, row-major. */
export interface JudgeImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray | Uint8Array;
}

/** What a report records about its judge, enough to build the same judge again. */
export type JudgeDescriptor =
  | {
      kind: 'concept-world';
      /** sha256 of the ONNX file: a report only replays with the same classifier. */
      sha256: string;
      /** Which logits output is read (objects or styles). */
      head: 'object_logits' | 'style_logits';
      inputSize: number;
    }
  | {
      kind: 'clip';
      /** Hub id of the CLIP model (e.g. Xenova/clip-vit-base-patch32). */
      model: string;
      revision: string;
      /** "a photo of the {object}": one text per label. */
      template: string;
      /** Logit scale before the softmax (MACE: 100). */
      scale: number;
    };

/**
 * Gives each image a probability per label. Every judge answers in the order of its `labels`;
 * the evaluation reads the prompted class's probability by name.
 */
export interface Judge {
  readonly descriptor: JudgeDescriptor;
  readonly labels: readonly string[];
  /** Probabilities (sum 1) per image, per label. */
  classify(images: readonly JudgeImage[]): Promise<number[][]>;
  release(): Promise<void>;
}

/** A CLIP score per image: 100 x cosine(image, its prompt), floored at 0 (Hessel et al.). */
export interface PromptScorer {
  readonly model: string;
  score(images: readonly JudgeImage[], prompts: readonly string[]): Promise<number[]>;
  release(): Promise<void>;
}
