/**
 * Debian's Chromium, headless, driven by playwright-core (no browser download).
 * playwright's launch() gives every browser a fresh temporary profile (--user-data-dir).
 * `webgpu: true` adds --enable-unsafe-webgpu (SwiftShader, a CPU implementation of
 * WebGPU, when there is no GPU); `webgpu: false` turns WebGPU off entirely.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Launched {
  browser: Browser;
  close(): Promise<void>;
}

export async function launch(options: { webgpu: boolean }): Promise<Launched> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH. The tests never download a browser.`);
  }
  const args = [
    '--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    ...(options.webgpu ? ['--enable-unsafe-webgpu'] : ['--disable-features=WebGPU']),
  ];
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}
