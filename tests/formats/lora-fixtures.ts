/** The 16 transformer blocks of SD 1.5 (SD 2.x has the same module names). */
export const SD_TRANSFORMER_BLOCKS = [
  'down_blocks.0.attentions.0',
  'down_blocks.0.attentions.1',
  'down_blocks.1.attentions.0',
  'down_blocks.1.attentions.1',
  'down_blocks.2.attentions.0',
  'down_blocks.2.attentions.1',
  'mid_block.attentions.0',
  'up_blocks.1.attentions.0',
  'up_blocks.1.attentions.1',
  'up_blocks.1.attentions.2',
  'up_blocks.2.attentions.0',
  'up_blocks.2.attentions.1',
  'up_blocks.2.attentions.2',
  'up_blocks.3.attentions.0',
  'up_blocks.3.attentions.1',
  'up_blocks.3.attentions.2',
].map((block) => `${block}.transformer_blocks.0`);

export const SD_CROSS_ATTENTION_KV = SD_TRANSFORMER_BLOCKS.flatMap((block) => [`${block}.attn2.to_k`, `${block}.attn2.to_v`]);
