#!/usr/bin/env node
// The `lethe` command: runs src/cli/main.ts with TypeScript (tsx) and `?raw` imports (raw-loader).
import { register } from 'node:module';
import { register as registerTypeScript } from 'tsx/esm/api';

registerTypeScript();
register('./raw-loader.mjs', import.meta.url);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
