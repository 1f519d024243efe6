/**
 * The README's quick start, as a newcomer runs it. CI runs on a fresh clone after the
 * README's install (`npm ci`), so this is what a newcomer meets: `npx --no-install vae` must find
 * the committed bin entry linked at install time (never the npm registry), and every `npx vae`
 * line of the README's "Quick start" block must succeed. Output files go to a temporary folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');

/** The `npx vae ...` lines of the README's "## Quick start" section's first sh block, comments removed. */
async function quickStartCommands(): Promise<string[][]> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start'));
  assert.ok(section, 'README.md has a "## Quick start" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the quick start has an sh block');
  return block.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l.startsWith('npx vae')).map((l) => l.split(/\s+/).slice(2));
}

/** Expands a glob like examples/images/*.png (the shell would). */
function expand(arg: string): string[] {
  const m = /^(.*)\/\*(\.\w+)$/.exec(arg);
  if (!m) return [arg];
  const dir = join(REPO, m[1]);
  return readdirSync(dir).filter((f) => f.endsWith(m[2])).sort().map((f) => `${m[1]}/${f}`);
}

test('npx --no-install vae resolves to the committed bin entry', () => {
  const bin = join(REPO, 'node_modules', '.bin', 'vae');
  assert.ok(existsSync(bin), 'node_modules/.bin/vae exists after npm ci');
  assert.equal(realpathSync(bin), join(REPO, 'pipeline', 'bin', 'vae.js'));
  const r = spawnSync('npx', ['--no-install', 'vae', '--help'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /vae sample/);
  assert.doesNotMatch(r.stderr, /npm (warn|error)/, 'no npm warnings on a plain npx call');
});

test("the README's quick-start commands all succeed", { timeout: 600_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'vae-readme-'));
  const commands = await quickStartCommands();
  assert.ok(commands.length >= 5, `found ${commands.length} commands`);
  for (const words of commands) {
    const args = words.flatMap(expand);
    const outAt = args.indexOf('--out');
    if (outAt >= 0) args[outAt + 1] = join(out, args[outAt + 1]);
    const r = spawnSync('npx', ['--no-install', 'vae', ...args], { cwd: REPO, encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `npx vae ${words.join(' ')} exited ${r.status}:\n${r.stderr}`);
    if (outAt >= 0) assert.ok((await stat(args[outAt + 1])).size > 0, `${args[outAt + 1]} written`);
    if (args[0] === 'encode') assert.match(r.stdout, /"mu"/);
  }
});

test('README.md is a front door: under 150 lines, and every relative link resolves', async () => {
  const files = ['README.md', ...readdirSync(join(REPO, 'docs'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  assert.ok(readme.split('\n').length < 150, `README.md has ${readme.split('\n').length} lines`);
  for (const file of files) {
    const text = await readFile(join(REPO, file), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target) || target.startsWith('#')) continue;
      const path = target.split('#')[0];
      assert.ok(existsSync(resolve(REPO, file, '..', path)), `${file} links to ${target}, which does not exist`);
    }
  }
});
