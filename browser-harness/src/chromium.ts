/**
 * Debian's Chromium, headless, driven by playwright-core. No browser is ever downloaded:
 * the executable is /usr/bin/chromium (apt-get install chromium) or $CHROMIUM_PATH.
 * playwright's launch() gives every browser a fresh temporary profile (--user-data-dir).
 */
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for headless Chromium: no network chatter, no first-run work, /tmp instead of a small /dev/shm. */
export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

/** Why Chromium cannot be launched here, or null. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM_PATH) ? null : `${CHROMIUM_PATH} not found (apt-get install chromium)`;
}

export interface LaunchOptions {
  /**
   * true: --enable-unsafe-webgpu (on a machine without a GPU, Chromium's adapter is SwiftShader,
   * a CPU implementation of WebGPU); false: WebGPU turned off, so pages take their fallback.
   * Default true.
   */
  webgpu?: boolean;
  timeoutMs?: number;
}

/** Launches headless Chromium; the error names the missing executable and how to install it. */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  const missing = chromiumMissing();
  if (missing) throw new Error(`${missing}; set CHROMIUM_PATH to use another Chromium. No browser is ever downloaded.`);
  const { chromium } = await import('playwright-core');
  const args = [...CHROMIUM_ARGS, ...((options.webgpu ?? true) ? ['--enable-unsafe-webgpu'] : ['--disable-features=WebGPU'])];
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args, timeout: options.timeoutMs ?? 120_000 });
}

export interface OpenedPage {
  page: Page;
  /** Uncaught page errors and console.error lines, in order. */
  errors: string[];
  close(): Promise<void>;
}

export interface OpenPageOptions {
  /** A page expression that becomes truthy when the page is ready, e.g. "document.body?.dataset.ready === 'true'". */
  ready?: string;
  timeoutMs?: number;
  /** Echo the page's console to stderr (default: when $VAE_BROWSER_DEBUG is set). */
  echo?: boolean;
}

/**
 * Opens `url` in a fresh context (its own cache and storage) and waits until `ready` holds;
 * a page that never gets ready fails with the errors it logged.
 */
export async function openPage(browser: Browser, url: string, options: OpenPageOptions = {}): Promise<OpenedPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  const echo = options.echo ?? Boolean(process.env.VAE_BROWSER_DEBUG);
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (echo) console.error(`[chromium ${m.type()}] ${m.text()}`);
    if (m.type() === 'error') errors.push(m.text());
  });
  const close = () => context.close().catch(() => undefined);
  try {
    await page.goto(url);
    if (options.ready) {
      await page.waitForFunction(options.ready, undefined, { timeout: options.timeoutMs ?? 120_000 }).catch((err: Error) => {
        throw new Error(`${url} did not get ready: ${errors.join('; ') || err.message}`);
      });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { page, errors, close };
}

/** The first line of an error from page.evaluate, without playwright's prefix. */
export function pageErrorLine(err: unknown): string {
  return String((err as Error)?.message ?? err).replace(/^page\.evaluate: /, '').split('\n')[0];
}
