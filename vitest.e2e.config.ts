import { defineConfig } from 'vitest/config';
import { installNode20Polyfills } from './tests/support/node20-polyfills.ts';

installNode20Polyfills();

// End-to-end tests: the built studio (vite preview, COOP/COEP) in headless Debian Chromium.
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.e2e.test.ts'],
    globalSetup: ['tests/e2e/support/global-setup.ts'],
    environment: 'node',
    // An unhandled rejection or uncaught error fails the test it happened in.
    setupFiles: ['tests/support/no-unhandled-errors.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
