import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { appendFile, readdir, rm, symlink, truncate, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelDir, releasedModelsDir, releasedModelDir, ManifestError, RELEASED_MODELS } from '../src/node.js';
import { fixtureManifest, writeFixtureDir } from './fixture.js';

test('loads a good model directory and resolves its files', async () => {
  const dir = await writeFixtureDir();
  try {
    const model = await loadModelDir(dir);
    assert.equal(model.manifest.name, 'fixture');
    assert.equal(model.file('encoder.onnx'), join(dir, 'encoder.onnx'));
    assert.equal(model.graph('decoder').path, join(dir, 'decoder.onnx'));
    assert.throws(() => model.graph('decoder.fp16'), /no graph "decoder.fp16" \(it has encoder, decoder\)/);
    assert.throws(() => model.file('../x'), /not listed/);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a changed byte is a SHA-256 mismatch naming the file', async () => {
  const dir = await writeFixtureDir();
  try {
    await writeFile(join(dir, 'decoder.onnx'), Buffer.alloc(200, 7));
    await assert.rejects(loadModelDir(dir), (err: Error) => {
      assert.ok(err instanceof ManifestError);
      assert.match(err.message, /decoder\.onnx: SHA-256 mismatch: the manifest says [0-9a-f]{64}, the file has [0-9a-f]{64}/);
      return true;
    });
    // Sizes are still checked when checksums are skipped, checksums are not.
    await loadModelDir(dir, { checksums: false });
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('size mismatch, missing file, bad manifest, missing manifest', async () => {
  const dir = await writeFixtureDir();
  try {
    await appendFile(join(dir, 'encoder/test_data_set_0/output_1.pb'), 'x');
    await assert.rejects(loadModelDir(dir, { checksums: false }), /output_1\.pb: size mismatch: the manifest says 20 bytes, the file has 21/);
    await truncate(join(dir, 'encoder/test_data_set_0/output_1.pb'), 20);
    await rm(join(dir, 'decoder/test_data_set_0/input_0.pb'));
    await assert.rejects(loadModelDir(dir), /decoder\/test_data_set_0\/input_0\.pb: missing \(listed in the manifest\)/);
    await writeFile(join(dir, 'manifest.json'), '{"format": "vae-onnx-model"}');
    await assert.rejects(loadModelDir(dir), /manifest\.json is not a valid model manifest:\n.*formatVersion/);
    await rm(join(dir, 'manifest.json'));
    await assert.rejects(loadModelDir(dir), /is not a model directory: it has no manifest\.json/);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a path escaping the directory is refused, also through a symlink', async () => {
  const escaping = fixtureManifest();
  escaping.files[0].path = '../encoder.onnx';
  const dir = await writeFixtureDir(escaping);
  const outside = await mkdtemp(join(tmpdir(), 'vae-outside-'));
  try {
    await assert.rejects(loadModelDir(dir), /files\.0\.path: must be a relative path inside the model directory/);
    // A listed file that is a symlink to a file outside the directory.
    const good = await writeFixtureDir();
    try {
      await writeFile(join(outside, 'decoder.onnx'), Buffer.alloc(200));
      await rm(join(good, 'decoder.onnx'));
      await symlink(join(outside, 'decoder.onnx'), join(good, 'decoder.onnx'));
      await assert.rejects(loadModelDir(good), /decoder\.onnx: resolves to .*, outside the model directory/);
    } finally {
      await rm(good, { recursive: true });
    }
  } finally {
    await rm(dir, { recursive: true });
    await rm(outside, { recursive: true });
  }
});

test('released models: the folder helper, and every committed model loads with valid checksums', async () => {
  const dir = releasedModelsDir();
  assert.match(dir, /models[\\/]released$/);
  assert.throws(() => releasedModelDir('../train'), /invalid model name/);
  assert.throws(() => releasedModelDir('no-such-model'), /no released model "no-such-model"/);
  const present = existsSync(dir) ? (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name) : [];
  for (const name of present) {
    const model = await loadModelDir(join(dir, name));
    assert.equal(model.manifest.name, name);
    assert.ok((RELEASED_MODELS as readonly string[]).includes(name), `${name} is not in RELEASED_MODELS`);
  }
});
