import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumMissing, launchChromium, openPage, send, serveStatic } from '../src/index.js';

const IN_CI = /^(1|true)$/i.test(process.env.CI ?? '');

async function site(): Promise<{ dir: string; remove(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'harness-'));
  const dir = join(root, 'site');
  await mkdir(join(dir, 'sub'), { recursive: true });
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>home</title><script type="module">document.body.dataset.ready = "true";</script>');
  await writeFile(join(dir, 'sub', 'a.mjs'), 'export const a = 1;');
  await writeFile(join(root, 'secret.txt'), 'outside the served folder');
  return { dir, remove: () => rm(root, { recursive: true, force: true }) };
}

test('serveStatic: folders by prefix, routes first, index.html, 404 for missing and escaping paths, every request logged', async () => {
  const { dir, remove } = await site();
  const server = await serveStatic({ dirs: { '/': dir, '/lib/': join(dir, 'sub') } });
  server.route((_req, res, path) => path === '/hello' && (send(res, 200, 'text/plain', 'hi'), true));
  try {
    const get = (p: string) => fetch(`${server.origin}${p}`);
    assert.equal(await (await get('/hello')).text(), 'hi');
    const home = await get('/');
    assert.equal(home.status, 200);
    assert.match(await home.text(), /<title>home<\/title>/);
    const mod = await get('/lib/a.mjs');
    assert.equal(mod.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await mod.text(), 'export const a = 1;');
    assert.equal((await get('/sub/a.mjs')).status, 200);
    assert.equal((await get('/missing.js')).status, 404);
    assert.equal((await get('/%2e%2e/secret.txt')).status, 404);
    assert.equal((await get('/lib/..%2f..%2fsecret.txt')).status, 404);
    assert.deepEqual(server.requests.slice(0, 3), ['/hello', '/', '/lib/a.mjs']);
    assert.equal(server.count((u) => u.includes('secret')), 2);
  } finally {
    await server.close();
    await remove();
  }
});

test('launchChromium + openPage: the page gets ready; WebGPU is on or off as asked; page errors are collected', { timeout: 180_000 }, async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    assert.ok(!IN_CI, `CI must have Chromium: ${missing}`);
    t.skip(missing);
    return;
  }
  const { dir, remove } = await site();
  await writeFile(join(dir, 'broken.html'), '<!doctype html><script>throw new Error("boom at load")</script>');
  const server = await serveStatic({ dirs: { '/': dir } });
  t.after(async () => {
    await server.close();
    await remove();
  });
  for (const webgpu of [true, false]) {
    const browser = await launchChromium({ webgpu });
    try {
      const opened = await openPage(browser, `${server.origin}/`, { ready: "document.body?.dataset.ready === 'true'" });
      const adapter = await opened.page.evaluate(async () => {
        const gpu = (globalThis as unknown as { navigator: { gpu?: { requestAdapter(): Promise<object | null> } } }).navigator.gpu;
        return Boolean(await gpu?.requestAdapter());
      });
      assert.equal(adapter, webgpu, `a WebGPU adapter ${webgpu ? 'with' : 'without'} --enable-unsafe-webgpu`);
      assert.equal(await opened.page.evaluate(() => (globalThis as unknown as { isSecureContext: boolean }).isSecureContext), true);
      await opened.close();
      await assert.rejects(openPage(browser, `${server.origin}/broken.html`, { ready: 'window.never === true', timeoutMs: 2000 }), /broken\.html did not get ready: .*boom at load/);
    } finally {
      await browser.close();
    }
  }
});
