/**
 * Node's device table on @vae/runtime-core's resolver (whose decisions runtime-core's tests
 * cover). The table runs here with injected CUDA detectors and a stand-in open; the real
 * detector and the real fallback run too (these machines have no CUDA provider, so they
 * exercise the "unavailable" side; the CUDA path itself needs an NVIDIA GPU).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveDevice } from '@vae/runtime-core';
import { DEVICE_CHOICES, NODE_DEVICES, VaeError, detectCuda, loadVae, type CudaDetector } from '../src/index.js';
import { N2 } from './helpers.js';

const available: CudaDetector = () => ({ available: true });
const unavailable: CudaDetector = () => ({ available: false, reason: 'no GPU in this test' });
const mustNotProbe: CudaDetector = () => assert.fail('cpu must not probe for CUDA');

/** The table's probes with `detectCuda`, and opens that succeed without sessions: only the decision. */
const select = (choice: string, detect: CudaDetector) =>
  resolveDevice(NODE_DEVICES.map((e) => ({ ...e, open: async () => undefined })), choice as never, { detectCuda: detect }, undefined);

describe('the Node device table', () => {
  it("the choices are 'auto', 'cuda', 'cpu', and 'auto' tries CUDA first", () => {
    assert.deepEqual(DEVICE_CHOICES, ['auto', 'cuda', 'cpu']);
  });

  it('auto + CUDA available -> cuda', async () => {
    const s = await select('auto', available);
    assert.equal(s.device, 'cuda');
    assert.equal(s.note, 'device: cuda (auto)');
  });

  it('auto + CUDA unavailable -> cpu, saying why', async () => {
    const s = await select('auto', unavailable);
    assert.equal(s.device, 'cpu');
    assert.equal(s.note, 'device: cpu (auto; cuda skipped: no GPU in this test)');
  });

  it('cuda + unavailable -> a device-unavailable error with the install command, never a fallback', async () => {
    await assert.rejects(select('cuda', unavailable), (err: Error) => {
      assert.ok(err instanceof VaeError);
      assert.equal(err.code, 'device-unavailable');
      assert.match(err.message, /^device "cuda" is not available: no GPU in this test\. To use it, install .*ONNXRUNTIME_NODE_INSTALL=cuda12/);
      return true;
    });
  });

  it('cuda + available -> cuda', async () => {
    assert.equal((await select('cuda', available)).device, 'cuda');
  });

  it('cpu -> cpu without probing', async () => {
    const s = await select('cpu', mustNotProbe);
    assert.equal(s.device, 'cpu');
    assert.equal(s.note, 'device: cpu (requested)');
  });

  it('rejects an unknown choice, naming the valid ones', async () => {
    await assert.rejects(select('gpu', available), (err: Error) =>
      err instanceof VaeError && err.code === 'input' && /device: "gpu" is not one of "auto", "cuda", "cpu"/.test(err.message));
  });

  it('an async detector is awaited; one without a reason gets a default', async () => {
    assert.match((await select('auto', async () => ({ available: false, reason: 'async reason' }))).note, /cuda skipped: async reason\)$/);
    assert.match((await select('auto', () => ({ available: false }))).note, /cuda skipped: the CUDA provider is not available\)$/);
  });

  it('probing for CUDA turns TF32 off unless the user set NVIDIA_TF32_OVERRIDE', async () => {
    const saved = process.env.NVIDIA_TF32_OVERRIDE;
    try {
      delete process.env.NVIDIA_TF32_OVERRIDE;
      await select('cpu', mustNotProbe);
      assert.equal(process.env.NVIDIA_TF32_OVERRIDE, undefined, 'cpu leaves the environment alone');
      await select('auto', unavailable);
      assert.equal(process.env.NVIDIA_TF32_OVERRIDE, '0');
      process.env.NVIDIA_TF32_OVERRIDE = '1';
      await select('auto', available);
      assert.equal(process.env.NVIDIA_TF32_OVERRIDE, '1');
    } finally {
      if (saved === undefined) delete process.env.NVIDIA_TF32_OVERRIDE;
      else process.env.NVIDIA_TF32_OVERRIDE = saved;
    }
  });
});

describe('the real CUDA detector and fallbacks (no CUDA provider on this machine)', () => {
  it('detectCuda reports unavailable with a reason', async () => {
    const probe = await detectCuda();
    assert.equal(probe.available, false, 'this test assumes a machine without the CUDA provider');
    assert.ok(probe.reason && probe.reason.length > 10);
  });

  it('loadVae cuda fails with the install hint and opens nothing', async () => {
    await assert.rejects(loadVae(N2, { device: 'cuda' }), (err: Error) =>
      err instanceof VaeError && err.code === 'device-unavailable' && /device "cuda" is not available.*ONNXRUNTIME_NODE_INSTALL=cuda12/s.test(err.message));
  });

  it('loadVae auto falls back to cpu and says so', async () => {
    const vae = await loadVae(N2, { device: 'auto' });
    try {
      assert.equal(vae.device, 'cpu');
      assert.match(vae.deviceNote, /^device: cpu \(auto; cuda skipped: .{10}/);
    } finally {
      await vae.dispose();
    }
  });

  it('CUDA detected but a session cannot open on it: auto falls back, cuda fails', async () => {
    // The detector claims CUDA; creating the real sessions on CUDA then fails (no provider library).
    const vae = await loadVae(N2, { device: 'auto', detectCuda: available });
    try {
      assert.equal(vae.device, 'cpu');
      assert.match(vae.deviceNote, /^device: cpu \(auto; cuda failed: .{10}/);
      assert.equal((await vae.decode([0, 0])).count, 1);
    } finally {
      await vae.dispose();
    }
    await assert.rejects(loadVae(N2, { device: 'cuda', detectCuda: available }), (err: Error) =>
      err instanceof VaeError && err.code === 'session' && /^Could not create the ONNX Runtime sessions on cuda: .*ONNXRUNTIME_NODE_INSTALL=cuda12/s.test(err.message));
  });
});
