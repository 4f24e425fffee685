/** The pack converter (browser-safe; Node's directory sink is in node-files.ts). */
export { convertExport, CONVERTER_VERSION, CROSS_ATTENTION_FILE, TEXT_TOKENS, type ConvertOptions, type ConvertProgress } from './convert.ts';
export { MemorySink, type FileContent, type PackSink } from './files.ts';
export type { ExportSource } from '../sources/export-source.ts';
export { FAMILY_RULE } from './family.ts';
export { PIECE_PLANS, type PiecePlan } from './pieces.ts';
