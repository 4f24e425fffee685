#!/usr/bin/env node
// Runs a TypeScript entry (bench scripts) the way bin/lethe.mjs runs the CLI: tsx for
// TypeScript, raw-loader for `?raw` WGSL imports. Usage: node bin/run-ts.mjs FILE.ts [args...]
import { register } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { register as registerTypeScript } from 'tsx/esm/api';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node bin/run-ts.mjs FILE.ts [args...]');
  process.exit(2);
}
registerTypeScript();
register('./raw-loader.mjs', import.meta.url);
process.argv = [process.argv[0], entry, ...args];
await import(pathToFileURL(resolve(entry)).href);
