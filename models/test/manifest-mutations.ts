/**
 * Seeded mutations of a real manifest.json, and the verdict each must get from a loader.
 * Shared by models/test/fuzz-manifest.test.ts (schema and Node loader) and
 * runtime-web/test/fuzz-manifest.test.ts (the browser loader's fetchManifest), so all three
 * are held to the same rules. Pure: no imports, the random source is passed in.
 *
 * The rules (the contract in models/src/schema.ts):
 *  - every object of the manifest is strict: an unknown key is refused, naming the key;
 *  - a missing or retyped field is refused, naming its path (or, for a cross-field rule, an
 *    enclosing path), except where the schema is open by design: the entries of
 *    `training.config` (the run's config, copied verbatim), of a graph's parity records, a
 *    graph variant other than encoder / decoder, and `provenance.dirty` (true, false or null);
 *  - another `format` or `formatVersion` is refused in one line naming the versions understood;
 *  - a file path that could leave the model directory is refused;
 *  - key order and whitespace do not matter;
 *  - an accepted manifest parses to exactly the JSON it was given (nothing dropped or coerced).
 */

export type Path = (string | number)[];

export interface Mutation {
  kind: 'drop' | 'retype' | 'extra-key' | 'escape' | 'version' | 'format' | 'reorder' | 'text';
  /** What was done, for failure messages. */
  name: string;
  /** The manifest.json text to load. */
  text: string;
  /** The mutated JSON (undefined when `text` is not JSON). */
  value?: unknown;
  /** Where the change is. */
  path: Path;
  /** May a loader accept it? (Must it, for 'reorder'.) */
  mayAccept: boolean;
  /** A refusal must match this. */
  refusal: RegExp;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every path in the tree (not the root), parents before children. */
function paths(value: Json, at: Path = []): Path[] {
  const out: Path[] = [];
  const children: [string | number, Json][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : isObject(value) ? Object.entries(value) : [];
  for (const [k, v] of children) out.push([...at, k], ...paths(v, [...at, k]));
  return out;
}

function get(root: Json, path: Path): Json {
  return path.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k], root);
}

/** Inside `training.config`, whose entries are the run's config, copied verbatim (any JSON). */
const inConfig = (path: Path) => path[0] === 'training' && path[1] === 'config' && path.length > 2;
/** An entry of a graph's parity records (output name -> number). */
const inParity = (path: Path) => path.length === 5 && path[0] === 'graphs' && path[2] === 'parity' && ['maxAbsError', 'meanAbsError', 'tolerance'].includes(String(path[3]));
/** A graph variant other than the two required ones. */
const isVariant = (path: Path) => path.length === 2 && path[0] === 'graphs' && path[1] !== 'encoder' && path[1] !== 'decoder';
/** The format check comes first and answers in one line of its own. */
const FORMAT_REFUSAL = /has formatVersion .*, but this library understands formatVersion 1 only|is not a model manifest of this library: its format is/;

/** A refusal that names `path` or an enclosing path, as a "  a.b.c: " line of the problem list. */
function namingPath(path: Path): RegExp {
  const prefixes = path.map((_, i) => path.slice(0, path.length - i).join('.')).map(escapeRe);
  return new RegExp(`is not a valid model manifest:\\n(.*\\n)*  (${prefixes.join('|')}): `);
}

/** Values of every JSON type; a retype picks one of a different type. */
const VALUES: Json[] = ['x', '', 7, -1, 0.5, true, false, null, [], [1, 'a'], {}, { a: 1 }];
const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
/** Paths that could leave the model directory, as a file system or a URL parser reads them. */
export const ESCAPING_PATHS = [
  '../outside.onnx', '..', '/etc/passwd', 'a/../../b', './encoder.onnx', 'a//b', 'C:/x', 'a\\..\\b', '',
  '%2e%2e/x', 'a/%2e%2e/%2e%2e/b', 'http://evil.example/x.onnx', 'javascript:alert(1)', 'x?y=1', 'x#y', 'encoder.onnx\u0000',
];

/**
 * `count` mutations of `manifest` (a parsed, valid manifest.json), seeded by `random`: a mix of
 * every kind, each with its verdict rules.
 */
export function mutateManifest(manifest: unknown, random: () => number, count: number): Mutation[] {
  const base = manifest as Json;
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)];
  const all = paths(base);
  const objects = [[], ...all].filter((p) => isObject(get(base, p)));
  const pathFields = all.filter((p) => {
    const last = p.at(-1), parent = p.at(-2);
    return (last === 'path' && p[0] === 'files') || last === 'file' || last === 'dir' || parent === 'inputs' || parent === 'outputs' ? typeof get(base, p) === 'string' : false;
  });
  const clone = () => structuredClone(base);
  const json = (v: unknown) => JSON.stringify(v, null, 2);
  const out: Mutation[] = [];
  const kinds: Mutation['kind'][] = ['drop', 'drop', 'drop', 'retype', 'retype', 'retype', 'extra-key', 'extra-key', 'escape', 'escape', 'version', 'format', 'reorder', 'text', 'text'];
  while (out.length < count) {
    const kind = kinds[out.length % kinds.length];
    const m = clone();
    switch (kind) {
      case 'drop': {
        const path = pick(all.filter((p) => typeof p.at(-1) === 'string'));
        delete (get(m, path.slice(0, -1)) as Record<string, Json>)[path.at(-1) as string];
        out.push({ kind, name: `drop ${path.join('.')}`, text: json(m), value: m, path, mayAccept: inConfig(path) || inParity(path) || isVariant(path), refusal: namingPath(path) });
        break;
      }
      case 'retype': {
        const path = pick(all);
        const old = get(base, path);
        const value = pick(VALUES.filter((v) => typeOf(v) !== typeOf(old)));
        (get(m, path.slice(0, -1)) as Record<string | number, Json>)[path.at(-1)!] = value;
        const dirty = path.join('.') === 'provenance.dirty' && (value === null || typeof value === 'boolean');
        // (A shape dimension may be a number or a name: a name where a size belongs breaks the graph's I/O rule, an enclosing path.)
        const refusal = path.length === 1 && (path[0] === 'format' || path[0] === 'formatVersion') ? FORMAT_REFUSAL : namingPath(path);
        out.push({ kind, name: `${path.join('.')} = ${JSON.stringify(value)}`, text: json(m), value: m, path, mayAccept: dirty || inConfig(path), refusal });
        break;
      }
      case 'extra-key': {
        const path = pick(objects);
        const key = `extra_${int(1000)}`;
        const value = pick(VALUES);
        (get(m, path) as Record<string, Json>)[key] = value;
        const open = inConfig([...path, key]) || (inParity([...path, key]) && typeof value === 'number' && value >= 0);
        out.push({ kind, name: `extra key ${[...path, key].join('.')}`, text: json(m), value: m, path: [...path, key], mayAccept: open, refusal: new RegExp(`Unrecognized key: "${key}"|${namingPath([...path, key]).source}`) });
        break;
      }
      case 'escape': {
        const path = pick(pathFields);
        const bad = pick(ESCAPING_PATHS);
        (get(m, path.slice(0, -1)) as Record<string | number, Json>)[path.at(-1)!] = bad;
        out.push({ kind, name: `${path.join('.')} = ${JSON.stringify(bad)}`, text: json(m), value: m, path, mayAccept: false, refusal: new RegExp(`${namingPath(path).source}must be a relative path inside the model directory`) });
        break;
      }
      case 'version': {
        const version = pick<Json>([0, 2, 3, 99, -1, 1.5, '1', '2', null, true, [], {}, 1e300]);
        (m as Record<string, Json>).formatVersion = version;
        const newer = typeof version === 'number' && Number.isInteger(version) && version > 1;
        out.push({
          kind, name: `formatVersion ${JSON.stringify(version)}`, text: json(m), value: m, path: ['formatVersion'], mayAccept: false,
          refusal: new RegExp(`has formatVersion .*, but this library understands formatVersion 1 only${newer ? ': the model was written by a newer exporter; upgrade @vae/models' : '$'}`),
        });
        break;
      }
      case 'format': {
        const format = pick<Json>(['vae-onnx-model-v2', 'onnx', '', 1, null, ['vae-onnx-model']]);
        (m as Record<string, Json>).format = format;
        out.push({ kind, name: `format ${JSON.stringify(format)}`, text: json(m), value: m, path: ['format'], mayAccept: false, refusal: /is not a model manifest of this library: its format is .*, expected "vae-onnx-model"$/ });
        break;
      }
      case 'reorder': {
        // Same content, keys in reverse order at every level, other whitespace: must be accepted as equal.
        const reverse = (v: Json): Json => (Array.isArray(v) ? v.map(reverse) : isObject(v) ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverse(x)])) : v);
        const r = reverse(m);
        out.push({ kind, name: 'keys reversed', text: JSON.stringify(r, null, int(5)), value: r, path: [], mayAccept: true, refusal: /^$/ });
        break;
      }
      case 'text': {
        // Damaged text: truncated, or one character changed. Free-text fields may survive a changed character.
        const text = json(m);
        const at = int(text.length);
        const damaged = random() < 0.5 ? text.slice(0, at) : text.slice(0, at) + pick(['"', '}', ']', ',', 'x', '\\', '\u0000', '9']) + text.slice(at + 1);
        let value: unknown;
        try { value = JSON.parse(damaged); } catch { value = undefined; }
        out.push({ kind, name: `text damaged at ${at}`, text: damaged, value, path: [], mayAccept: value !== undefined, refusal: /is not valid JSON|is not a valid model manifest|is not a model manifest of this library|has formatVersion/ });
        break;
      }
    }
  }
  return out;
}
