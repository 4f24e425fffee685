/**
 * Vitest setup file: an unhandled promise rejection or an uncaught exception fails the test that
 * was running when it happened (or the file, after its last test), with the error's own message
 * and stack. Vitest alone reports them at the end of the run, detached from any test.
 * A rejection handled later ('rejectionHandled') is forgiven.
 */
import { afterAll, afterEach } from 'vitest';

const pending = new Map<Promise<unknown>, unknown>();
const uncaught: unknown[] = [];

process.on('unhandledRejection', (reason, promise) => void pending.set(promise, reason));
process.on('rejectionHandled', (promise) => void pending.delete(promise));
process.on('uncaughtException', (error) => void uncaught.push(error));

/** What was collected since the last call (and forgets it): for tests of this guard itself. */
export function takeUnhandledErrors(): unknown[] {
  const errors = [...pending.values(), ...uncaught];
  pending.clear();
  uncaught.length = 0;
  return errors;
}

function failOnUnhandled(when: string): void {
  const errors = takeUnhandledErrors();
  if (errors.length === 0) return;
  const described = errors.map((error) => (error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error)));
  throw new Error(`${errors.length} unhandled rejection(s) or uncaught error(s) ${when}:\n${described.join('\n---\n')}`);
}

// Let a rejection that is about to be handled (a handler attached a tick later) be handled first.
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(async () => {
  await settle();
  failOnUnhandled('during this test');
});

afterAll(async () => {
  await settle();
  failOnUnhandled('after the last test of this file');
});
