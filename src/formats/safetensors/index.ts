export { DTYPE_BYTES, SAFETENSORS_DTYPES, isSafetensorsDtype, type SafetensorsDtype } from './dtypes.ts';
export {
  MAX_HEADER_BYTES,
  SAFETENSORS_PREFIX_BYTES,
  readSafetensorsHeader,
  readSafetensorsPrefix,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './header.ts';
export { readSafetensors, type SafetensorsFile, type SafetensorsTensor } from './reader.ts';
export { tensorToBigInt64, tensorToFloat32, tensorToInt32, type TensorBytes } from './elements.ts';
export { writeSafetensors, type SafetensorsWriteTensor } from './writer.ts';
export { float32ToBfloat16Bits } from './bfloat16.ts';
