/**
 * The guards around the fault matrix: the two failures the CLI used to dump as Node stack traces,
 * run as real `lethe` processes (exit code, one stderr line, no stack unless --debug); the entry
 * point's handler for rejections nobody awaited; and the test setup that fails a test on an
 * unhandled rejection.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { EXIT_CODES } from '../../src/cli/failure.ts';
import { main } from '../../src/cli/main.ts';
import { takeUnhandledErrors } from '../support/no-unhandled-errors.ts';

// A cold tsx start of bin/lethe.mjs takes ~1.5 s idle but over a minute on a loaded 2-core machine.
const SPAWN_TIMEOUT = 240_000;
const TEST_TIMEOUT = 300_000;
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'lethe-guards-'));
// SwiftShader: the hardware probe of some Vulkan drivers prints Dawn's own warnings on stderr.
const env = { ...process.env, LETHE_CACHE_DIR: join(dir, 'cache'), LETHE_SWIFTSHADER: '1' };

function lethe(...args: string[]) {
  const ran = spawnSync(process.execPath, [join(root, 'bin/lethe.mjs'), ...args], { cwd: dir, env, encoding: 'utf8', timeout: SPAWN_TIMEOUT });
  return { code: ran.status, stderr: ran.stderr, lines: ran.stderr.split('\n').filter((line) => line.trim() !== '') };
}

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  expect(await main(['forge', '--preset', 'tiny-sd15', '--out', join(dir, 'export')])).toBe(0);
  expect(await main(['convert', '--in', join(dir, 'export'), '--out', join(dir, 'pack')])).toBe(0);
  vi.restoreAllMocks();
  cpSync(join(dir, 'pack'), join(dir, 'truncated'), { recursive: true });
  truncateSync(join(dir, 'truncated', 'unet/down.onnx.data'), 1000);
}, TEST_TIMEOUT);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lethe as a process', () => {
  test('a pack path that does not exist: one line, exit 3, no stack', () => {
    const ran = lethe('generate', '--pack', '/tmp/nonexistent', '--prompt', 'x', '--out', 'a.png');
    expect(ran.code).toBe(EXIT_CODES.notFound);
    expect(ran.lines).toEqual(['lethe generate: --pack /tmp/nonexistent: no such folder; give a pack folder (the one with manifest.json), demo, or hub:owner/name']);
  }, TEST_TIMEOUT);

  test('a pack with a truncated unet/down.onnx.data: one line, exit 1, no IntegrityError dump', () => {
    const ran = lethe('generate', '--pack', join(dir, 'truncated'), '--prompt', 'x', '--out', 'a.png');
    expect(ran.code).toBe(EXIT_CODES.invalidInput);
    expect(ran.lines).toHaveLength(1);
    expect(ran.lines[0]).toMatch(/^lethe generate: unet\/down\.onnx\.data \(.*\): expected \d+ bytes, got 1000; .*copy or convert the pack again$/);
    expect(ran.stderr).not.toMatch(/IntegrityError|\s+at |Node\.js/);
  }, TEST_TIMEOUT);

  test('--debug adds the stack after the same line', () => {
    const ran = lethe('generate', '--pack', '/tmp/nonexistent', '--prompt', 'x', '--out', 'a.png', '--debug');
    expect(ran.code).toBe(EXIT_CODES.notFound);
    expect(ran.lines[0]).toMatch(/^lethe generate: --pack \/tmp\/nonexistent: no such folder/);
    expect(ran.lines[1]).toMatch(/^InputNotFoundError: /);
    expect(ran.lines.slice(2).every((line) => /^\s+at /.test(line))).toBe(true);
  }, TEST_TIMEOUT);

  test('a rejection nobody awaits ends as one line and exit 70, not a Node dump', () => {
    // What bin/lethe.mjs does, then a promise rejected outside any command.
    const script = [
      "import { register } from 'node:module';",
      "import { register as registerTypeScript } from 'tsx/esm/api';",
      'registerTypeScript();',
      `register(${JSON.stringify(join(root, 'bin/raw-loader.mjs'))}, import.meta.url);`,
      `const { installProcessGuards } = await import(${JSON.stringify(join(root, 'src/cli/main.ts'))});`,
      "installProcessGuards(['generate']);",
      "Promise.reject(new TypeError('lost promise'));",
    ].join('\n');
    const ran = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env, encoding: 'utf8', timeout: SPAWN_TIMEOUT });
    expect(ran.status).toBe(EXIT_CODES.internal);
    expect(ran.stderr.trim()).toBe('lethe generate: internal error: TypeError: lost promise; this is a bug in Lethe: rerun with --debug for the stack and report it');
  }, TEST_TIMEOUT);
});

describe('the test setup', () => {
  test('records an unhandled rejection (which then fails the running test)', async () => {
    void Promise.reject(new Error('deliberately unhandled'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    const errors = takeUnhandledErrors();
    expect(errors.map((error) => (error as Error).message)).toEqual(['deliberately unhandled']);
  });

  test('forgives a rejection that is handled a moment later', async () => {
    const late = Promise.reject(new Error('handled late'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await late.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(takeUnhandledErrors()).toEqual([]);
  });
});
