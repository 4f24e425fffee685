import { statSync } from 'node:fs';
import type { CliCommand } from '../command.ts';
import { choiceFlag, parseFlags, requireFlag } from '../flags.ts';
import { runConvertCli } from '../convert-folder.ts';
import { PIECE_PLANS } from '../../model/converter/index.ts';
import { InputNotFoundError } from '../../util/errors.ts';
import { withOutputFolder } from '../output-file.ts';

export const convertCommand: CliCommand = {
  name: 'convert',
  summary: 'build a Lethe pack from a diffusers/optimum ONNX export',
  usage: 'lethe convert --in EXPORT_DIR --out PACK_DIR [--plan default|blocks]',
  async run(args) {
    const { values } = parseFlags(args, { in: { type: 'string' }, out: { type: 'string' }, plan: { type: 'string' } });
    const started = performance.now();
    const input = requireFlag(values.in, '--in');
    const plan = choiceFlag(values.plan, '--plan', PIECE_PLANS, 'default');
    if (!statSync(input, { throwIfNoEntry: false })?.isDirectory()) throw new InputNotFoundError(`--in ${input}: no such folder; give the folder of a diffusers/optimum ONNX export (the one with model_index.json)`);
    const manifest = await withOutputFolder(requireFlag(values.out, '--out'), '--out', (outDir) => runConvertCli(input, outDir, { plan }));
    const bytes = Object.values(manifest.files).reduce((sum, file) => sum + file.bytes, 0);
    console.log(`${values.out}: ${manifest.family} ${manifest.dtype} pack, ${manifest.pieces.length} UNet pieces, ${manifest.crossAttention.length} cross-attention layers, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  },
};
