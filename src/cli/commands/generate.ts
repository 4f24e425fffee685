import { basename } from 'node:path';
import type { CliCommand } from '../command.ts';
import { choiceFlag, integerFlag, numberFlag, parseFlags, requireFlag } from '../flags.ts';
import { checkPackArg, packSpecFromArg } from '../pack-arg.ts';
import { readInputBytes, readInputText } from '../input-file.ts';
import { checkOutputFile, writeOutputFile } from '../output-file.ts';
import { createNodeEngine } from '../../engine/node-engine.ts';
import { encodePng } from '../../pipeline/image/index.ts';
import { SCHEDULER_KINDS } from '../../pipeline/schedulers/scheduler.ts';

const USAGE =
  'lethe generate --pack P --prompt TEXT --out image.png [--negative TEXT] [--seed N] [--steps N] [--guidance G] ' +
  '[--scheduler ddim|euler_a|dpmpp_2m] [--width W --height H] [--recipe recipe.json | --lora F [--lora-scale S]]';

export const generateCommand: CliCommand = {
  name: 'generate',
  summary: 'generate an image (original, or edited by a recipe or a LoRA) and write a PNG',
  usage: USAGE,
  async run(args) {
    const { values } = parseFlags(args, {
      pack: { type: 'string' },
      prompt: { type: 'string' },
      negative: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      guidance: { type: 'string' },
      scheduler: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      recipe: { type: 'string' },
      lora: { type: 'string' },
      'lora-scale': { type: 'string' },
      out: { type: 'string' },
    });
    const pack = packSpecFromArg(requireFlag(values.pack, '--pack'));
    const out = requireFlag(values.out, '--out');
    const params = {
      jobId: 'cli',
      prompt: requireFlag(values.prompt, '--prompt'),
      negativePrompt: values.negative ?? '',
      seed: integerFlag(values.seed, '--seed', 0, 0, 2 ** 32 - 1),
      steps: integerFlag(values.steps, '--steps', 20, 1, 1000),
      guidance: numberFlag(values.guidance, '--guidance', 7.5, 1, 50),
      scheduler: choiceFlag(values.scheduler, '--scheduler', SCHEDULER_KINDS, 'dpmpp_2m'),
      ...(values.width ? { width: integerFlag(values.width, '--width', 512, 8, 4096) } : {}),
      ...(values.height ? { height: integerFlag(values.height, '--height', 512, 8, 4096) } : {}),
      variant: values.recipe || values.lora ? ('edited' as const) : ('original' as const),
    };
    const loraScale = numberFlag(values['lora-scale'], '--lora-scale', 1, -10, 10);
    // Inputs and the output path are checked before the engine starts: a typo fails at once.
    checkPackArg(values.pack ?? '');
    checkOutputFile(out, '--out');
    const recipeJson = values.recipe ? readInputText(values.recipe, '--recipe') : null;
    const loraBytes = values.lora ? readInputBytes(values.lora, '--lora') : null;
    const engine = await createNodeEngine();
    try {
      const summary = await engine.loadPack(pack);
      console.error(`pack ${summary.description}`);
      if (recipeJson !== null) console.error(`edit ${(await engine.applyRecipe(recipeJson)).id.slice(0, 12)}`);
      if (values.lora && loraBytes) {
        const imported = await engine.importLora(loraBytes, basename(values.lora), loraScale);
        console.error(`LoRA: ${imported.applied.length} projections applied at strength ${loraScale}` + (imported.notApplied.length ? `; not applied: ${imported.notApplied.join(', ')}` : ''));
      }
      const image = await engine.generate(params, (p) => {
        if (p.phase === 'denoise') process.stderr.write(`\rstep ${p.step}/${p.steps}`);
      });
      process.stderr.write('\n');
      await writeOutputFile(out, await encodePng({ width: image.width, height: image.height, rgba: new Uint8ClampedArray(image.rgba) }), '--out');
      console.log(`${out}: ${image.width}x${image.height}, seed ${image.seed}, ${image.ms.toFixed(0)} ms`);
      return 0;
    } finally {
      await engine.dispose();
    }
  },
};
