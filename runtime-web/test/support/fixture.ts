/**
 * One browser per test file: builds the pages (cached), starts the static server and
 * Chromium, and tears both down.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildPages } from './build.ts';
import { launchChromium } from '@vae/browser-harness';
import { startServer, type TestServer } from './server.ts';
import { COUNT_GPU_SUBMITS } from './run-golden.ts';
import type { RuntimeId } from '@vae/models';

export interface Fixture {
  server: TestServer;
  browser: Browser;
  origin: string;
  /** A new context (own storage and Cache API) with the harness page loaded. */
  harness(): Promise<{ context: BrowserContext; page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function setup(options: { webgpu: boolean }): Promise<Fixture> {
  const dir = await buildPages();
  const server = await startServer(dir);
  let browser: Browser;
  try {
    browser = await launchChromium(options);
  } catch (err) {
    await server.close();
    throw err;
  }
  return {
    server,
    browser,
    origin: server.origin,
    async harness() {
      const context = await browser.newContext();
      await context.addInitScript(COUNT_GPU_SUBMITS);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (process.env.VAE_WEB_DEBUG) console.log(`[browser ${m.type()}] ${m.text()}`);
      });
      await page.goto(`${server.origin}/test/harness/`);
      await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 60_000 });
      return { context, page, errors };
    },
    async close() {
      await browser.close().catch(() => undefined);
      await server.close();
    },
  };
}

/** The parity matrix's runtime id of a Chromium device (tolerances: @vae/models' toleranceFor). */
export const runtimeId = (device: string): RuntimeId => (device === 'webgpu' ? 'chromium-webgpu' : 'chromium-wasm');

/** A VaeError thrown in the page, as plain data. */
export interface PageError { name: string; code?: string; message: string; url?: string; file?: string; status?: number }
