import type { CliCommand } from '../command.ts';
import { choiceFlag, integerFlag, parseFlags, requireFlag } from '../flags.ts';
import { forge } from '../../model/forge/forge-to-directory.ts';
import { FORGE_PRESETS } from '../../model/forge/presets.ts';
import { withOutputFolder } from '../output-file.ts';

export const forgeCommand: CliCommand = {
  name: 'forge',
  summary: 'write a seeded SD-shaped model in diffusers ONNX-export (or diffusers safetensors) layout',
  usage: 'lethe forge --preset tiny-sd15|tiny-sd21|sd15-shapes|sd21-shapes --out DIR [--seed N] [--dtype fp32|fp16] [--layout onnx|diffusers] [--opset 14|17]',
  async run(args) {
    const { values } = parseFlags(args, {
      preset: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      dtype: { type: 'string' },
      layout: { type: 'string' },
      opset: { type: 'string' },
    });
    const started = performance.now();
    const options = {
      preset: choiceFlag(requireFlag(values.preset, '--preset'), '--preset', FORGE_PRESETS, 'tiny-sd15'),
      seed: integerFlag(values.seed, '--seed', 0, 0, 2 ** 32 - 1),
      dtype: choiceFlag(values.dtype, '--dtype', ['fp32', 'fp16'] as const, 'fp32'),
      layout: choiceFlag(values.layout, '--layout', ['onnx', 'diffusers'] as const, 'onnx'),
      opset: choiceFlag(values.opset, '--opset', ['14', '17'] as const, '14') === '17' ? 17 : 14,
    } as const;
    const summary = await withOutputFolder(requireFlag(values.out, '--out'), '--out', (outDir) => forge({ ...options, outDir }));
    const bytes = summary.files.reduce((sum, file) => sum + file.bytes, 0);
    console.log(`${values.out}: ${summary.preset} (${summary.layout}, ${summary.dtype}, seed ${summary.seed}), ${summary.files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  },
};
