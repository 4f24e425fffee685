/** The pack converter (browser-safe; Node's directory source/sink and CLI entry are in node-files.ts and cli.ts). */
export { convertExport, CONVERTER_VERSION, CROSS_ATTENTION_FILE, TEXT_TOKENS, type ConvertOptions, type ConvertProgress } from './convert.ts';
export { memorySource, MemorySink, type ExportSource, type FileContent, type PackSink } from './files.ts';
export { FAMILY_RULE } from './family.ts';
export { PIECE_PLANS, type PiecePlan } from './pieces.ts';
