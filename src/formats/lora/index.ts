export { describeLoraKey, loraKeys, type LoraConvention, type LoraKeyInfo, type LoraKeyRole } from './keys.ts';
export { loraScale, type LoraFullDiff, type LoraLayerDelta } from './layer.ts';
export {
  LETHE_METADATA_FORMAT,
  loraMetadata,
  readKohyaMetadata,
  readLetheMetadata,
  type JsonValue,
  type KohyaLoraMetadata,
  type LetheLoraProvenance,
  type LoraMetadataInput,
} from './metadata.ts';
export {
  TEXT_ENCODER_MODULE_TEMPLATES,
  UNET_MODULE_TEMPLATES,
  isCrossAttentionKeyValue,
  isTextEncoderModule,
  isUnetModule,
  kohyaFlatName,
  textEncoderModuleFromKohya,
  unetModuleFromKohya,
} from './module-grammar.ts';
export { readLora, type ReadLoraResult } from './reader.ts';
export { writeLora, type WriteLoraOptions } from './writer.ts';
