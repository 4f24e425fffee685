import { UsageError, type CliCommand } from './command.ts';
import { convertCommand } from './commands/convert.ts';
import { eraseCommand } from './commands/erase.ts';
import { exportCommand } from './commands/export.ts';
import { forgeCommand } from './commands/forge.ts';
import { generateCommand } from './commands/generate.ts';
import { infoCommand } from './commands/info.ts';
import { tokenizeCommand } from './commands/tokenize.ts';
import { packCommand } from '../model/diffusers/cli.ts';
import { FormatError, InputError } from '../util/errors.ts';

const commands: CliCommand[] = [infoCommand, forgeCommand, convertCommand, packCommand, tokenizeCommand, generateCommand, eraseCommand, exportCommand];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return ['usage: lethe <command> [options]', '', ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`), '', 'lethe <command> --help shows its options.'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(help());
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`lethe: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (args.includes('--help')) {
    console.log(`usage: ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`lethe ${name}: ${error.message}\nusage: ${command.usage}`);
      return 2;
    }
    if (error instanceof FormatError || error instanceof InputError) {
      console.error(`lethe ${name}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
