/** A forged tiny pack (made in memory once per preset and test file) and its UNet pieces. */
import { decodeModel } from '../../src/formats/onnx/codec.ts';
import { externalDataFromBytes, inlineExternalData } from '../../src/formats/onnx/external-data.ts';
import type { ModelProto } from '../../src/formats/onnx/types.ts';
import { dimBindings, pieceInputShapes, type UnetShape } from '../../src/training/unet-pieces.ts';
import type { PackReader } from '../../src/model/pack-reader.ts';
import type { PackManifest } from '../../src/model/manifest.ts';
import { convertExport, MemorySink } from '../../src/model/converter/index.ts';
import { MemoryPackSource } from '../../src/model/memory-source.ts';
import { forgeInMemory } from '../../src/model/forge/forge.ts';

export interface TinyPack {
  manifest: PackManifest;
  read: PackReader['bytes'];
}

const packs = new Map<TinyPreset, Promise<TinyPack>>();
export type TinyPreset = 'tiny-sd15' | 'tiny-sd21';

export function tinyPack(preset: TinyPreset = 'tiny-sd15'): Promise<TinyPack> {
  let pack = packs.get(preset);
  if (pack) return pack;
  pack = (async () => {
    const { files } = await forgeInMemory({ preset, seed: 11, dtype: 'fp32' });
    const sink = new MemorySink();
    const manifest = await convertExport(new MemoryPackSource(files), sink, { plan: 'default' });
    const read: PackReader['bytes'] = async (path) => {
      const bytes = sink.files.get(path);
      if (!bytes) throw new Error(`tiny pack: no file ${path}`);
      return bytes;
    };
    return { manifest, read };
  })();
  packs.set(preset, pack);
  return pack;
}

/** One piece's decoded model, its input shapes for `shape` (default batch 1, 16x8 latent) and output names. */
export async function tinyPiece(name: string, shape: UnetShape = { batch: 1, latentHeight: 16, latentWidth: 8 }): Promise<{ model: ModelProto; shapes: Record<string, number[]>; outputs: string[] }> {
  const { manifest, read } = await tinyPack();
  const piece = manifest.pieces.find((p) => p.name === name);
  if (!piece) throw new Error(`tiny pack: no piece ${name}`);
  const dir = piece.file.slice(0, piece.file.lastIndexOf('/') + 1);
  const model = await inlineExternalData(decodeModel(await read(piece.file), piece.file), piece.file, async (location) => externalDataFromBytes(await read(dir + location)));
  return { model, shapes: pieceInputShapes(piece, dimBindings(manifest, shape)), outputs: piece.outputs.map((o) => o.name) };
}
