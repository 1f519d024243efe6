/**
 * Seeded fuzzing of manifest.json through the browser loader's `fetchManifest`, run in Node
 * over real HTTP (the test server, Node's fetch): the mutations and rules of
 * models/test/manifest-mutations.ts, shared with the schema and Node loader tests. Each
 * mutation must be accepted as exactly the JSON served, or refused with a VaeError of code
 * "manifest" that carries the manifest URL and the schema's own message; never another error.
 * And a path that escapes the directory as a URL ("%2e%2e/") is refused even when it reaches
 * `loadModelFiles` without the schema.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32, parseManifestText } from '@vae/models';
import { releasedModelDir } from '@vae/models/node';
import { VaeError } from '@vae/runtime-core';
import { fetchManifest, loadModelFiles } from '../src/fetch.ts';
import { startServer, type TestServer } from './support/server.ts';
import { mutateManifest } from '../../models/test/manifest-mutations.ts';

const CASES = 300;
const text = readFileSync(join(releasedModelDir('mnist-n2-beta1'), 'manifest.json'), 'utf8');
let server: TestServer;
let served = text;

before(async () => {
  server = await startServer(releasedModelDir('mnist-n2-beta1'));
  server.route((req, res) => {
    if (req.url !== '/fuzz/manifest.json') return false;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(served);
    return true;
  });
});
after(async () => server?.close());

test(`${CASES} mutated manifests through fetchManifest: accepted as served, or a "manifest" VaeError with the schema's message`, async (t) => {
  const url = `${server.origin}/fuzz/manifest.json`;
  const tally = { accepted: 0, refused: 0 };
  for (const m of mutateManifest(JSON.parse(text), mulberry32(5), CASES)) {
    served = m.text;
    let schemaMessage: string | undefined;
    try { parseManifestText(m.text, url); } catch (err) { schemaMessage = (err as Error).message; }
    try {
      const manifest = await fetchManifest(`${server.origin}/fuzz/`);
      assert.equal(schemaMessage, undefined, `${m.name}: accepted by fetchManifest, refused by the schema`);
      assert.ok(m.mayAccept, `${m.name}: accepted, but the rules refuse it`);
      assert.deepEqual(manifest, m.value, `${m.name}: accepted, but not as served`);
      tally.accepted++;
    } catch (err) {
      assert.ok(err instanceof VaeError, `${m.name}: expected a VaeError, got ${(err as Error)?.stack ?? String(err)}`);
      assert.equal(err.code, 'manifest', `${m.name}: ${err.message}`);
      assert.equal(err.url, url);
      assert.equal(err.message, schemaMessage, `${m.name}: the message must be the schema's`);
      assert.match(err.message, m.refusal, `${m.name}: refused without naming the problem`);
      tally.refused++;
    }
  }
  t.diagnostic(`${tally.accepted} accepted, ${tally.refused} refused`);
});

test('a file path that leaves the model directory as a URL is refused by loadModelFiles too, before any request', async () => {
  const before = server.requests.length;
  for (const path of ['%2e%2e/decoder.onnx', 'a/%2e%2e/%2e%2e/x.onnx', '../x.onnx', '/x.onnx', 'http://evil.example/x.onnx']) {
    const entry = { path, bytes: 1, sha256: 'a'.repeat(64) };
    await assert.rejects(loadModelFiles(`${server.origin}/models/m/`, [entry], { cache: false }), (err: Error) => {
      assert.ok(err instanceof VaeError && err.code === 'manifest', String(err));
      assert.match(err.message, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: resolves to .*, outside the model directory ${server.origin}/models/m/$`));
      return true;
    });
  }
  assert.equal(server.requests.length, before, 'nothing was fetched');
});
