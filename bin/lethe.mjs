#!/usr/bin/env node
// The `lethe` command: runs src/cli/main.ts with TypeScript (tsx) and `?raw` imports (raw-loader).
// Whatever fails, it ends as one line `lethe <command>: ...` on stderr and an exit code (README);
// --debug adds the stack.
import { register } from 'node:module';
import { register as registerTypeScript } from 'tsx/esm/api';

const argv = process.argv.slice(2);
try {
  registerTypeScript();
  register('./raw-loader.mjs', import.meta.url);
  const { main, installProcessGuards } = await import('../src/cli/main.ts');
  installProcessGuards(argv);
  process.exitCode = await main(argv);
} catch (error) {
  // Only a broken installation gets here (main() itself never throws).
  process.stderr.write(`lethe: cannot start: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}; reinstall with npm ci\n`);
  if (argv.includes('--debug')) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
  process.exitCode = 70;
}
