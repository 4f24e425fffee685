import { defineConfig } from 'vitest/config';
import { installNode20Polyfills } from './tests/support/node20-polyfills.ts';

installNode20Polyfills();

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/e2e/**'],
    environment: 'node',
    // An unhandled rejection or uncaught error fails the test it happened in.
    setupFiles: ['tests/support/no-unhandled-errors.ts'],
    // One Dawn device per worker is heavy on a 2-core machine; forks keep native state isolated.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
