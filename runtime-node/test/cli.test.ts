/**
 * The `vae` commands of this package, spawned as `node pipeline/dist/cli.js ...` (build
 * first: `npx turbo run build`). Good runs agree with the library; bad input exits non-zero
 * with a message that names the input, and writes nothing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Jimp } from 'jimp';
import { loadVae, writePng, type Images, type Vae } from '../src/index.js';
import { CLI, N2, N64, copyModel, flipByte, maxAbsDiff, mnistTest, removeDir, swapGraph, tempDir, vae, type CliResult } from './helpers.js';

describe('vae CLI', () => {
  let dir: string;
  let lib: Vae;
  let digits: Float32Array;
  const a = () => join(dir, 'a.png');
  const b = () => join(dir, 'b.png');
  /** b's digit drawn dark on white. */
  const c = () => join(dir, 'c.png');

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: build first (npx turbo run build)`);
    dir = await tempDir();
    digits = (await mnistTest(2)).images;
    const one = (i: number): Images => ({ pixels: digits.slice(i * 784, (i + 1) * 784), count: 1, height: 28, width: 28 });
    await writePng(a(), one(0));
    await writePng(b(), one(1));
    await writePng(c(), one(1), { invert: true });
    lib = await loadVae(N64, { device: 'cpu' });
  });
  after(async () => {
    await lib.dispose();
    await removeDir(dir);
  });

  const json = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  it('encode --json / --out, then decode --z-file of that output; sample; human-readable output', async () => {
    // --no-center --no-invert: the PNGs as they are, so the CLI must match encoding the raw pixels.
    const [enc, sample] = await Promise.all([
      vae(['encode', a(), b(), '--json', '--out', join(dir, 'enc.json'), '--device', 'cpu', '--no-center', '--no-invert']),
      vae(['sample', '--count', '4', '--seed', '5', '--out', join(dir, 'sample.png'), '--device', 'cpu']),
    ]);
    const e = json(enc);
    const { mu, logvar } = await lib.encode(digits);
    assert.equal(e.images.length, 2);
    assert.equal(e.images[1].file, b());
    assert.deepEqual(Float32Array.from(e.images.flatMap((im: { mu: number[] }) => im.mu)), mu, 'JSON mu reads back to the same float32');
    assert.deepEqual(Float32Array.from(e.images.flatMap((im: { logvar: number[] }) => im.logvar)), logvar);
    assert.equal(e.device, 'cpu');
    assert.equal(e.precision, 'fp32');
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'enc.json'), 'utf8')), e);

    // Human-readable: one line on stdout; the device line on stderr.
    assert.equal(sample.code, 0, sample.stderr);
    assert.equal(sample.stdout, `wrote ${join(dir, 'sample.png')}: 4 samples (2x2 grid, 58x58 px); seed 5, temperature 1\n`);
    assert.match(sample.stderr, /device: cpu \(requested\)/);
    const samplePng = await Jimp.read(join(dir, 'sample.png'));
    const expectedSample = await lib.sample(4, { seed: 5 });
    assert.equal(samplePng.bitmap.data[(14 * 58 + 14) * 4], Math.round(255 * expectedSample.pixels[14 * 28 + 14]));

    const dec = json(await vae(['decode', '--z-file', join(dir, 'enc.json'), '--json', '--out', join(dir, 'dec.png')]));
    assert.deepEqual(dec.shape, [2, 28, 28]);
    const png = await Jimp.read(join(dir, 'dec.png'));
    assert.deepEqual([png.bitmap.width, png.bitmap.height], [58, 28]);
    const expected = await lib.decode(mu);
    for (const [i, x0] of [[0, 0], [1, 30]]) {
      for (const [r, c] of [[10, 10], [14, 14], [20, 12]]) {
        assert.equal(png.bitmap.data[((r * 58) + x0 + c) * 4], Math.round(255 * expected.pixels[i * 784 + r * 28 + c]));
      }
    }
  });

  it('reconstruct, interpolate, manifold (default model n = 2), decode --z; the image options reach the library', async () => {
    const [rec, interp, mani, dz] = await Promise.all([
      vae(['reconstruct', a(), b(), '--json', '--out', join(dir, 'rec.png')]),
      vae(['interpolate', a(), b(), '--steps', '4', '--json', '--out', join(dir, 'interp.png'), '--no-center', '--invert=false']),
      vae(['manifold', '--steps', '3', '--range', '2', '--json', '--out', join(dir, 'manifold.png')]),
      vae(['decode', '--z', '0.5,-1', '--z', '1,1', '--model', N2, '--json', '--scale', '2', '--out', join(dir, 'dz.png')]),
    ]);
    const r = json(rec);
    assert.equal(r.layout, 'pairs');
    assert.deepEqual([r.count, r.grid.columns], [4, 4]);
    assert.ok(r.images.every((im: { bce: number }) => im.bce > 0));
    const i = json(interp);
    const { mu } = await lib.encode(digits);
    assert.equal(i.z.length, 4);
    assert.ok(maxAbsDiff(i.z[0], mu.subarray(0, 64)) < 1e-6);
    assert.ok(maxAbsDiff(i.z[3], mu.subarray(64)) < 1e-6);
    const m = json(mani);
    assert.equal(m.name, 'mnist-n2-beta1');
    assert.deepEqual(m.z, [[-2, 2], [0, 2], [2, 2], [-2, 0], [0, 0], [2, 0], [-2, -2], [0, -2], [2, -2]]);
    const d = json(dz);
    assert.deepEqual([d.count, d.grid.width, d.grid.height], [2, 116, 56]);
    for (const f of ['rec.png', 'interp.png', 'manifold.png', 'dz.png']) assert.ok(existsSync(join(dir, f)), f);
    // The reconstruction used the defaults (invert auto, centring): its mu is the library's.
    const recDefault = await lib.encode([a(), b()]);
    assert.deepEqual(Float32Array.from(r.images.flatMap((im: { mu: number[] }) => im.mu)), recDefault.mu);

    // Each image flag against the library with the same options, on a dark digit on white.
    const flags: [string[], { invert?: boolean; center?: boolean; fit?: 'contain' | 'fill' }][] = [
      [[], {}],
      [['--no-invert'], { invert: false }],
      [['--invert'], { invert: true }],
      [['--no-center', '--fit', 'fill', '--invert'], { center: false, fit: 'fill', invert: true }],
    ];
    const runs = await Promise.all(flags.map(([f]) => vae(['encode', c(), '--json', '--device', 'cpu', ...f])));
    const muOf = (k: number) => Float32Array.from(json(runs[k]).images[0].mu);
    for (const [k, [f, options]] of flags.entries()) {
      const { mu } = await lib.encode(c(), options);
      assert.deepEqual(muOf(k), mu, `encode ${f.join(' ')}`);
    }
    // Without a flag, polarity is automatic: the dark-on-white digit encodes as the light-on-black one.
    assert.deepEqual(muOf(0), (await lib.encode(b())).mu);
    assert.deepEqual(muOf(2), muOf(0));
    assert.notDeepEqual(muOf(1), muOf(0), '--no-invert takes the image as it is');
  });

  describe('bad input: non-zero exit, a message naming the input, nothing written', () => {
    let bad: string;
    before(async () => { bad = await tempDir('vae-rt-bad-'); });
    after(async () => { await removeDir(bad); });

    /** Runs the command (with --out OUT appended when `out`), expects `code` and `message`, and no OUT. */
    async function fails(args: string[], code: number, message: RegExp, out = true): Promise<void> {
      const target = join(bad, `out-${Math.random().toString(36).slice(2)}.png`);
      const r = await vae(out ? [...args, '--out', target] : args, bad);
      assert.equal(r.code, code, `${args.join(' ')}: expected exit ${code}, got ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message, `${args.join(' ')}: stderr was\n${r.stderr}`);
      assert.equal(existsSync(target), false, `${args.join(' ')} wrote ${target}`);
    }

    it('wrong latent size, NaN, Infinity, a non-image file, manifold on n = 64', async () => {
      await writeFile(join(bad, 'inf.json'), '[[1e999, 0]]');
      await writeFile(join(bad, 'notes.png'), 'hello');
      await Promise.all([
        fails(['decode', '--z', '0.1,0.2,0.3'], 1, /^error: z \(--z\): vector 0 has 3 values, but the model's latent size is 64$/m),
        fails(['decode', '--model', N2, '--z=nan,1'], 1, /error: z \(--z\): vector 0, value 0 is NaN: latent values must be finite numbers/),
        fails(['decode', '--model', N2, '--z-file', join(bad, 'inf.json')], 1, /error: .*inf\.json \(--z-file\): vector 0, value 0 is Infinity/),
      ]);
      await Promise.all([
        fails(['encode', join(bad, 'notes.png'), '--json'], 1, /error: .*notes\.png: not an image \(PNG, JPEG or BMP\)/),
        fails(['interpolate', a(), '1,2,3'], 1, /error: B "1,2,3": 3 values, but the model's latent size is 64$/m),
        fails(['manifold', '--model', N64], 1, /error: manifold needs a model with latent size 1 or 2; this model has latent size 64/),
      ]);
    });

    it('missing, tampered and mismatched model files; --device cuda without the provider; usage errors', async () => {
      const missing = await copyModel(N64, bad, 'missing');
      await rm(join(missing, 'decoder.fp16.onnx'));
      const tampered = await copyModel(N64, bad, 'tampered');
      await flipByte(join(tampered, 'decoder.onnx'));
      const mismatch = await copyModel(N64, bad, 'mismatch');
      await swapGraph(mismatch, 'decoder.onnx', join(N2, 'decoder.onnx'));
      await Promise.all([
        fails(['sample', '--model', missing], 1, /error: .*missing\/decoder\.fp16\.onnx: missing \(listed in the manifest\)/),
        fails(['reconstruct', a(), '--model', tampered], 1, /error: .*tampered\/decoder\.onnx: SHA-256 mismatch/),
        fails(['sample', '--model', mismatch, '--json'], 1, /error: .*mismatch\/manifest\.json does not match decoder\.onnx: the manifest says inputs z\[N,64\]:float32, the graph has z\[N,2\]:float32/),
        fails(['sample', '--device', 'cuda'], 1, /error: device "cuda" is not available: .*ONNXRUNTIME_NODE_INSTALL=cuda12/),
      ]);
      await Promise.all([
        fails(['decode'], 2, /error: --z or --z-file/),
        fails(['sample', '--device', 'gpu'], 2, /Invalid values:\s+Argument: device, Given: "gpu", Choices: "auto", "cuda", "webgpu", "cpu"/),
        fails(['sample', '--precision', 'fp8'], 2, /Argument: precision, Given: "fp8", Choices: "fp32", "fp16", "int8"/),
        fails(['encode', a(), '--fit', 'stretch'], 2, /Argument: fit, Given: "stretch", Choices: "contain", "fill"/),
        fails(['sample', '--ep', 'cpu'], 2, /Unknown argument: ep/),
      ]);
    });
  });
});
