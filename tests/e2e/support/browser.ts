import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** WebGPU on SwiftShader: Linux Chromium exposes no adapter without these. */
export const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

/** Debian's Chromium; never a downloaded browser. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path)) throw new Error(`Chromium not found at ${path}: on Debian run "apt-get install -y chromium", or set CHROMIUM_PATH.`);
  return path;
}

export async function launchBrowser(options: { webgpu?: boolean; extraFlags?: string[] } = {}): Promise<Browser> {
  const { webgpu = true, extraFlags = [] } = options;
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Playwright gives every launch a fresh temporary profile.
    args: [...CHROMIUM_FLAGS, ...(webgpu ? WEBGPU_FLAGS : []), ...extraFlags],
  });
}

/** Collects console errors and page crashes so a test can assert there were none. */
export function watchPage(page: Page): { errors: string[] } {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return { errors };
}
