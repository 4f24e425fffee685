/** Packs straight from diffusers repos (browser-safe; the Node CLI glue is in cli.ts). */
export { buildPackFromDiffusers, PIPELINE_CLASSES, type DiffusersPackOptions } from './build-pack.ts';
export { bindWeights, modernVaeAttentionName, type PackDtype } from './bind-weights.ts';
export { openCheckpoint, type ComponentCheckpoint, type WeightVariant } from './checkpoint.ts';
export { readTextEncoderConfig, readUNetConfig, readVaeConfig } from './configs.ts';
export { packSourceReader } from './pack-source-reader.ts';
export { VirtualExport } from './virtual-export.ts';
