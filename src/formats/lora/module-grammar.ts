/**
 * The module paths of a diffusers UNet2DConditionModel (SD 1.x/2.x, also SDXL) and of the CLIP
 * text encoder, as templates in which '#' stands for an index. kohya writes a module path with
 * every '.' replaced by '_', which is ambiguous on its own (`transformer_blocks`, `to_k`,
 * `down_blocks` contain underscores); matching against these templates undoes it exactly.
 */

const TRANSFORMER_BLOCK_LEAVES = [
  'norm1',
  'norm2',
  'norm3',
  ...['attn1', 'attn2'].flatMap((attn) => ['to_q', 'to_k', 'to_v', 'to_out.0'].map((p) => `${attn}.${p}`)),
  'ff.net.0.proj',
  'ff.net.2',
];
const ATTENTION_LEAVES = ['norm', 'proj_in', 'proj_out', ...TRANSFORMER_BLOCK_LEAVES.map((leaf) => `transformer_blocks.#.${leaf}`)];
const RESNET_LEAVES = ['norm1', 'conv1', 'time_emb_proj', 'norm2', 'conv2', 'conv_shortcut'];

export const UNET_MODULE_TEMPLATES: readonly string[] = [
  'conv_in',
  'conv_norm_out',
  'conv_out',
  'time_embedding.linear_1',
  'time_embedding.linear_2',
  'add_embedding.linear_1',
  'add_embedding.linear_2',
  ...['down_blocks.#', 'mid_block', 'up_blocks.#'].flatMap((block) => [
    ...ATTENTION_LEAVES.map((leaf) => `${block}.attentions.#.${leaf}`),
    ...RESNET_LEAVES.map((leaf) => `${block}.resnets.#.${leaf}`),
  ]),
  'down_blocks.#.downsamplers.0.conv',
  'up_blocks.#.upsamplers.0.conv',
];

export const TEXT_ENCODER_MODULE_TEMPLATES: readonly string[] = [
  ...['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.out_proj', 'mlp.fc1', 'mlp.fc2', 'layer_norm1', 'layer_norm2'].map(
    (leaf) => `text_model.encoder.layers.#.${leaf}`,
  ),
  'text_model.final_layer_norm',
  'text_model.embeddings.token_embedding',
  'text_model.embeddings.position_embedding',
  'text_projection',
];

const INDEX = '(0|[1-9][0-9]*)';

interface CompiledTemplate {
  readonly template: string;
  readonly dotted: RegExp;
  readonly flat: RegExp;
}

function compile(template: string): CompiledTemplate {
  const pattern = (separator: string) =>
    new RegExp(`^${template.split('.').map((part) => (part === '#' ? INDEX : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join(separator)}$`);
  return { template, dotted: pattern('\\.'), flat: pattern('_') };
}

const UNET = UNET_MODULE_TEMPLATES.map(compile);
const TEXT_ENCODER = TEXT_ENCODER_MODULE_TEMPLATES.map(compile);

function fill(template: string, indices: string[]): string {
  let i = 0;
  return template.split('.').map((part) => (part === '#' ? indices[i++] : part)).join('.');
}

function matchFlat(flat: string, templates: readonly CompiledTemplate[]): string | null {
  for (const t of templates) {
    const match = t.flat.exec(flat);
    if (match) return fill(t.template, match.slice(1));
  }
  return null;
}

/** Whether `module` (dotted, without a `unet.` prefix) is a module of the UNet grammar. */
export function isUnetModule(module: string): boolean {
  return UNET.some((t) => t.dotted.test(module));
}

export function isTextEncoderModule(module: string): boolean {
  return TEXT_ENCODER.some((t) => t.dotted.test(module));
}

/** kohya's flat UNet name (after `lora_unet_`) to the diffusers path, or null when no template matches. */
export function unetModuleFromKohya(flat: string): string | null {
  return matchFlat(flat, UNET);
}

/** kohya's flat text-encoder name (after `lora_te_`) to the transformers path, or null. */
export function textEncoderModuleFromKohya(flat: string): string | null {
  return matchFlat(flat, TEXT_ENCODER);
}

/** The flat form kohya writes: every '.' becomes '_'. */
export function kohyaFlatName(module: string): string {
  return module.replaceAll('.', '_');
}

const CROSS_ATTENTION_KV = /^(?:down_blocks\.(?:0|[1-9][0-9]*)|mid_block|up_blocks\.(?:0|[1-9][0-9]*))\.attentions\.(?:0|[1-9][0-9]*)\.transformer_blocks\.(?:0|[1-9][0-9]*)\.attn2\.to_[kv]$/;

/**
 * The modules Lethe edits: the cross-attention key and value projections (`attn2.to_k`,
 * `attn2.to_v`), the only places the text embedding enters an SD 1.x/2.x UNet.
 */
export function isCrossAttentionKeyValue(module: string): boolean {
  return CROSS_ATTENTION_KV.test(module);
}
