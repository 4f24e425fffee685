import type { CliCommand } from '../command.ts';
import { choiceFlag, parseFlags, requireFlag } from '../flags.ts';
import { runConvertCli } from '../../model/converter/cli.ts';
import { PIECE_PLANS } from '../../model/converter/index.ts';

export const convertCommand: CliCommand = {
  name: 'convert',
  summary: 'build a Lethe pack from a diffusers/optimum ONNX export',
  usage: 'lethe convert --in EXPORT_DIR --out PACK_DIR [--plan default|blocks]',
  async run(args) {
    const { values } = parseFlags(args, { in: { type: 'string' }, out: { type: 'string' }, plan: { type: 'string' } });
    const started = performance.now();
    const manifest = await runConvertCli(requireFlag(values.in, '--in'), requireFlag(values.out, '--out'), { plan: choiceFlag(values.plan, '--plan', PIECE_PLANS, 'default') });
    const bytes = Object.values(manifest.files).reduce((sum, file) => sum + file.bytes, 0);
    console.log(`${values.out}: ${manifest.family} ${manifest.dtype} pack, ${manifest.pieces.length} UNet pieces, ${manifest.crossAttention.length} cross-attention layers, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  },
};
