import type { CliCommand } from '../command.ts';
import { EXIT_CODES } from '../failure.ts';
import { parseFlags } from '../flags.ts';
import { Engine } from '../../engine/engine.ts';
import { nodePlatform } from '../../engine/node-engine.ts';

export const infoCommand: CliCommand = {
  name: 'info',
  summary: 'show the WebGPU adapter and run the kernel self-test',
  usage: 'lethe info [--self-test]',
  async run(args) {
    const { values } = parseFlags(args, { 'self-test': { type: 'boolean' } });
    const engine = new Engine(nodePlatform());
    const status = await engine.init();
    if (status.state === 'unavailable') {
      console.error(`${status.message}\n${status.advice.join('\n')}`);
      return EXIT_CODES.gpu;
    }
    console.log(JSON.stringify(status, null, 2));
    if (values['self-test']) {
      const checks = await engine.selfTest();
      for (const check of checks) console.log(`${check.passed ? 'ok  ' : 'FAIL'} ${check.name.padEnd(24)} err ${check.maxRelError.toExponential(2)}  ${check.ms.toFixed(1)} ms`);
      await engine.dispose();
      return checks.every((check) => check.passed) ? 0 : 1;
    }
    await engine.dispose();
    return 0;
  },
};
