import type { CliCommand } from './command.ts';
import { convertCommand } from './commands/convert.ts';
import { eraseCommand } from './commands/erase.ts';
import { exportCommand } from './commands/export.ts';
import { forgeCommand } from './commands/forge.ts';
import { generateCommand } from './commands/generate.ts';
import { infoCommand } from './commands/info.ts';
import { tokenizeCommand } from './commands/tokenize.ts';
import { evalCommand } from './commands/eval.ts';
import { proposeCommand } from './commands/propose.ts';
import { describeFailure, EXIT_CODES, failureLine } from './failure.ts';
import { packCommand } from './commands/pack.ts';
import { trainCommand } from './commands/train.ts';

/** Every `lethe` command, in the order `lethe --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [infoCommand, forgeCommand, convertCommand, packCommand, tokenizeCommand, generateCommand, eraseCommand, exportCommand, trainCommand, evalCommand, proposeCommand];

/** Accepted anywhere on the command line: a failure prints its stack after the one-line message. */
export const DEBUG_FLAG = '--debug';

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: lethe <command> [options] [--debug]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'lethe <command> --help shows its options; --debug prints the stack of a failure.',
  ].join('\n');
}

/**
 * Runs one command and returns its exit code. Never throws: whatever escapes the command ends as
 * one line `lethe <command>: ...` on stderr and a code from EXIT_CODES (the stack only with --debug).
 */
export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes(DEBUG_FLAG);
  const [name, ...args] = argv.filter((arg) => arg !== DEBUG_FLAG);
  if (!name || name === '--help' || name === '-h') {
    console.log(help());
    return name ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`lethe: unknown command "${name}"; the commands are ${COMMANDS.map((c) => c.name).join(', ')} (lethe --help)`);
    return EXIT_CODES.usage;
  }
  if (args.includes('--help')) {
    console.log(`usage: ${command.usage}`);
    return EXIT_CODES.ok;
  }
  try {
    return await command.run(args);
  } catch (error) {
    return reportFailure(name, error, debug);
  }
}

/** Prints the failure line (and with `debug` the stack) and returns the exit code. */
export function reportFailure(command: string, error: unknown, debug: boolean): number {
  const failure = describeFailure(error);
  const hint = failure.code === EXIT_CODES.usage ? `; lethe ${command} --help lists the options` : '';
  console.error(`${failureLine(command, failure)}${hint}`);
  if (debug) console.error(error instanceof Error && error.stack ? error.stack : String(error));
  return failure.code;
}

/**
 * For the `lethe` executable: an error that escapes every await (an unhandled rejection, an
 * uncaught exception in a callback) also ends as one line and EXIT_CODES.internal, not a Node dump.
 */
export function installProcessGuards(argv: readonly string[]): void {
  const command = argv.find((arg) => !arg.startsWith('-')) ?? 'lethe';
  const debug = argv.includes(DEBUG_FLAG);
  const fail = (error: unknown) => {
    process.exitCode = reportFailure(command, error, debug);
    process.exit();
  };
  process.on('unhandledRejection', fail);
  process.on('uncaughtException', fail);
}
