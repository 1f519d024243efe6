/**
 * Seeded fuzzing of manifest.json (see manifest-mutations.ts for the mutations and the rules)
 * through the schema (`parseManifestText`) and the Node loader (`loadModelDir` on a copy of a
 * released model). Every mutation must be accepted, where the rules allow it, as exactly the
 * JSON it was given, or refused with a ManifestError that names the manifest and the problem;
 * never another exception. The loader must agree with the schema, and may refuse more only
 * because of the files (a checksum that a damaged character changed).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestError, loadModelDir, parseManifestText, releasedModelDir } from '../src/node.js';
import { mulberry32 } from '../src/random.js';
import { mutateManifest, type Mutation } from './manifest-mutations.js';

const CASES = 300;
let dir: string;
let text: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vae-fuzz-manifest-'));
  await cp(releasedModelDir('mnist-n2-beta1'), join(dir, 'model'), { recursive: true });
  text = await readFile(join(dir, 'model', 'manifest.json'), 'utf8');
});
after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

/** The verdict of `load` on one mutation, checked against the rules; 'accepted' or the refusal message. */
async function verdict(m: Mutation, source: string, load: () => unknown): Promise<{ accepted: boolean; message?: string }> {
  let loaded: unknown;
  try {
    loaded = await load();
  } catch (err) {
    assert.ok(err instanceof ManifestError, `${m.name}: expected a ManifestError, got ${(err as Error)?.stack ?? String(err)}`);
    assert.ok(err.message.startsWith(source), `${m.name}: the message must name ${source}: ${err.message}`);
    return { accepted: false, message: err.message };
  }
  assert.ok(m.mayAccept, `${m.name}: accepted, but the rules refuse it`);
  return { accepted: true, message: JSON.stringify(loaded) };
}

test(`${CASES} mutated manifests through the schema: accepted as given where allowed, else refused naming the problem`, async (t) => {
  const original = parseManifestText(text);
  const tally: Record<string, { accepted: number; refused: number }> = {};
  for (const m of mutateManifest(JSON.parse(text), mulberry32(3), CASES)) {
    let parsed: unknown;
    const v = await verdict(m, 'm.json ', () => (parsed = parseManifestText(m.text, 'm.json')));
    (tally[m.kind] ??= { accepted: 0, refused: 0 })[v.accepted ? 'accepted' : 'refused']++;
    if (v.accepted) {
      assert.deepEqual(parsed, m.value, `${m.name}: accepted, but not as given`);
      if (m.kind === 'reorder') assert.deepEqual(parsed, original, 'reordered keys mean the same manifest');
    } else {
      assert.notEqual(m.kind, 'reorder', `${m.name}: refused: ${v.message}`);
      assert.match(v.message!, m.refusal, `${m.name}: refused without naming the problem`);
    }
  }
  t.diagnostic(Object.entries(tally).map(([k, c]) => `${k}: ${c.accepted} accepted, ${c.refused} refused`).join('; '));
});

test(`${CASES} mutated manifests through the Node loader agree with the schema`, async (t) => {
  const model = join(dir, 'model');
  const manifestPath = join(model, 'manifest.json');
  let fileRefusals = 0;
  for (const m of mutateManifest(JSON.parse(text), mulberry32(4), CASES)) {
    let schema: { accepted: boolean; message?: string };
    try {
      parseManifestText(m.text, manifestPath);
      schema = { accepted: true };
    } catch (err) {
      schema = { accepted: false, message: (err as Error).message };
    }
    await writeFile(manifestPath, m.text);
    const v = await verdict(m, manifestPath, () => loadModelDir(model));
    if (!schema.accepted) {
      assert.equal(v.message, schema.message, `${m.name}: the loader and the schema disagree`);
    } else if (!v.accepted) {
      // Schema-valid, yet refused: only for a file that no longer matches (a damaged checksum or size).
      assert.match(v.message!, /: (SHA-256 mismatch|size mismatch|missing \(listed in the manifest\))/, `${m.name}: ${v.message}`);
      fileRefusals++;
    }
  }
  await writeFile(manifestPath, text);
  await loadModelDir(model); // the copy is intact again
  t.diagnostic(`refused by the loader for its files only: ${fileRefusals}`);
});
