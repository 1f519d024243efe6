import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputExistsError, writeDirAtomic } from '../src/atomic-dir.js';

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vae-atomic-'));
}

test('creates the directory only when complete, with nothing left behind', async () => {
  const root = await scratch();
  try {
    const out = join(root, 'nested', 'model');
    const seen = await writeDirAtomic(out, {}, async (tmp) => {
      assert.ok(!existsSync(out), 'the target must not exist while being filled');
      assert.notEqual(tmp, out);
      await writeFile(join(tmp, 'a.txt'), 'new');
      return 42;
    });
    assert.equal(seen, 42);
    assert.equal(await readFile(join(out, 'a.txt'), 'utf8'), 'new');
    assert.equal((await stat(out)).mode & 0o777, 0o755);
    assert.deepEqual(await readdir(join(root, 'nested')), ['model']);
  } finally {
    await rm(root, { recursive: true });
  }
});

test('refuses an existing directory without force; replaces it with force', async () => {
  const root = await scratch();
  try {
    const out = join(root, 'model');
    await mkdir(out);
    await writeFile(join(out, 'old.txt'), 'old');
    await assert.rejects(writeDirAtomic(out, {}, async () => assert.fail('fill must not run')), (err: Error) => {
      assert.ok(err instanceof OutputExistsError);
      assert.equal(err.message, `${out} already exists: pass --force to replace it`);
      return true;
    });
    await writeDirAtomic(out, { force: true }, async (tmp) => writeFile(join(tmp, 'new.txt'), 'new'));
    assert.deepEqual(await readdir(out), ['new.txt']);
    assert.deepEqual(await readdir(root), ['model']);
    await writeFile(join(root, 'file'), 'x');
    await assert.rejects(writeDirAtomic(join(root, 'file'), { force: true }, async () => undefined), /exists and is not a directory/);
  } finally {
    await rm(root, { recursive: true });
  }
});

test('a failure removes the temporary folder and leaves the old directory as it was', async () => {
  const root = await scratch();
  try {
    const out = join(root, 'model');
    await mkdir(out);
    await writeFile(join(out, 'old.txt'), 'old');
    let tmpSeen = '';
    await assert.rejects(
      writeDirAtomic(out, { force: true }, async (tmp) => {
        tmpSeen = tmp;
        await writeFile(join(tmp, 'half.txt'), 'half');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(!existsSync(tmpSeen));
    assert.deepEqual(await readdir(root), ['model']);
    assert.equal(await readFile(join(out, 'old.txt'), 'utf8'), 'old');
    // And with no previous directory, nothing at all remains.
    await assert.rejects(writeDirAtomic(join(root, 'fresh'), {}, async () => { throw new Error('boom'); }), /boom/);
    assert.deepEqual(await readdir(root), ['model']);
  } finally {
    await rm(root, { recursive: true });
  }
});

test('a target that appears while filling is not overwritten without force', async () => {
  const root = await scratch();
  try {
    const out = join(root, 'model');
    await assert.rejects(
      writeDirAtomic(out, {}, async () => {
        await mkdir(out);
        await writeFile(join(out, 'theirs.txt'), 'theirs');
      }),
      OutputExistsError,
    );
    assert.deepEqual(await readdir(out), ['theirs.txt']);
    assert.deepEqual(await readdir(root), ['model']);
  } finally {
    await rm(root, { recursive: true });
  }
});
