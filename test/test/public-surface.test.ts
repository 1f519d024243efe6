/**
 * Every package entry point's public surface, snapshotted: the names each built module exports
 * at runtime (`Object.keys(await import(entry))`) and the type-only names its .d.ts adds. A
 * change to what a package exports then shows up in review as a change to
 * test/public-surface.json, not as a side effect of an edit to an index.ts.
 *
 * The entries come from each workspace package's package.json `exports`, so a new subpath is
 * covered (and fails here until it is snapshotted). The modules are imported through Node's
 * resolution, i.e. the built dist/, as a consumer gets them: run `npx turbo run build` first
 * (`npm test` does, through turbo).
 *
 * To accept a change: UPDATE_SURFACE=1 npm test -w test
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');
const SNAPSHOT = join(import.meta.dirname, '..', 'public-surface.json');
const UPDATE_HINT = 'UPDATE_SURFACE=1 npm test -w test';

interface Surface { values: string[]; types: string[] }
type Snapshot = Record<string, Surface>;
interface Entry { specifier: string; types: string }

type Target = string | { types?: string; default?: string; import?: string } | null;
interface PackageJson { name: string; exports?: string | Record<string, Target>; workspaces?: string[] }

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** The module entries of every workspace package (subpaths that are files, like ./package.json, are not modules). */
function entries(): Entry[] {
  const out: Entry[] = [];
  for (const workspace of readJson<PackageJson>(join(ROOT, 'package.json')).workspaces ?? []) {
    const dir = join(ROOT, workspace);
    const pkg = readJson<PackageJson>(join(dir, 'package.json'));
    if (pkg.exports === undefined) continue;
    const map = typeof pkg.exports === 'string' ? { '.': pkg.exports } : pkg.exports;
    for (const [subpath, target] of Object.entries(map)) {
      if (target === null || typeof target === 'string') continue;
      if (!target.types) throw new Error(`${workspace}/package.json: exports["${subpath}"] has no "types" condition, so its type names cannot be read`);
      out.push({ specifier: subpath === '.' ? pkg.name : pkg.name + subpath.slice(1), types: join(dir, target.types) });
    }
  }
  return out.sort((a, b) => a.specifier.localeCompare(b.specifier));
}

/** Names each entry's .d.ts exports, types and values alike, read with the compiler as a consumer's would. */
function declaredNames(list: Entry[]): Map<string, string[]> {
  for (const e of list) {
    if (!existsSync(e.types)) throw new Error(`${e.specifier}: ${e.types} does not exist; run \`npx turbo run build\` first`);
  }
  const program = ts.createProgram(list.map((e) => e.types), {
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
    strict: true, skipLibCheck: true, noEmit: true, types: ['node'],
  });
  const checker = program.getTypeChecker();
  const names = new Map<string, string[]>();
  for (const e of list) {
    const file = program.getSourceFile(e.types);
    const symbol = file && checker.getSymbolAtLocation(file);
    if (!symbol) throw new Error(`${e.specifier}: ${e.types} is not a module the compiler can read`);
    names.set(e.specifier, checker.getExportsOfModule(symbol).map((s) => s.name));
  }
  return names;
}

async function currentSurface(): Promise<Snapshot> {
  const list = entries();
  const declared = declaredNames(list);
  const surface: Snapshot = {};
  for (const e of list) {
    const values = Object.keys(await import(e.specifier) as object).sort();
    const runtime = new Set(values);
    // Type-only exports (interfaces, type aliases, `export type`) exist only in the .d.ts.
    const types = (declared.get(e.specifier) ?? []).filter((n) => !runtime.has(n)).sort();
    surface[e.specifier] = { values, types };
  }
  return surface;
}

/** One line per entry that differs: what was added and what was removed, values and types apart. */
function differences(expected: Snapshot, actual: Snapshot): string[] {
  const lines: string[] = [];
  const diff = (kind: string, before: string[] = [], after: string[] = []): string[] => {
    const was = new Set(before), is = new Set(after);
    const added = after.filter((n) => !was.has(n)), removed = before.filter((n) => !is.has(n));
    return [
      ...(added.length ? [`${kind} added: ${added.join(', ')}`] : []),
      ...(removed.length ? [`${kind} removed: ${removed.join(', ')}`] : []),
    ];
  };
  for (const spec of [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort()) {
    if (!(spec in actual)) { lines.push(`${spec}: entry removed (in the snapshot, no longer in its package.json exports)`); continue; }
    if (!(spec in expected)) { lines.push(`${spec}: new entry, not in the snapshot (${actual[spec].values.length} values, ${actual[spec].types.length} types)`); continue; }
    const changes = [...diff('values', expected[spec].values, actual[spec].values), ...diff('types', expected[spec].types, actual[spec].types)];
    if (changes.length) lines.push(`${spec}: ${changes.join('; ')}`);
  }
  return lines;
}

test('each package entry exports exactly the names in test/public-surface.json', { timeout: 120_000 }, async () => {
  const actual = await currentSurface();
  if (process.env.UPDATE_SURFACE === '1') {
    writeFileSync(SNAPSHOT, JSON.stringify(actual, null, 2) + '\n');
    return;
  }
  assert.ok(existsSync(SNAPSHOT), `${SNAPSHOT} is missing; write it with ${UPDATE_HINT}`);
  const lines = differences(readJson<Snapshot>(SNAPSHOT), actual);
  assert.ok(lines.length === 0, [
    `the public surface differs from ${SNAPSHOT.slice(ROOT.length + 1)}:`,
    ...lines.map((l) => `  ${l}`),
    `If the change is intended (each export is what a consumer uses), update the snapshot with ${UPDATE_HINT} (after \`npx turbo run build\`) and commit it.`,
  ].join('\n'));
});
