/**
 * Device selection. The decision logic runs on injected CUDA detectors; the real detector and
 * the real fallback run here too (these machines have no CUDA provider, so they exercise the
 * "unavailable" side; the CUDA path itself needs an NVIDIA GPU).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VaeError, detectCuda, loadVae, selectDevice, type CudaDetector } from '../src/index.js';
import { N2 } from './helpers.js';

const available: CudaDetector = () => ({ available: true });
const unavailable: CudaDetector = () => ({ available: false, reason: 'no GPU in this test' });
const mustNotProbe: CudaDetector = () => assert.fail('cpu must not probe for CUDA');

describe('selectDevice', () => {
  it('auto + CUDA available -> cuda', async () => {
    const s = await selectDevice('auto', available);
    assert.equal(s.device, 'cuda');
    assert.match(s.note, /cuda/);
  });

  it('auto + CUDA unavailable -> cpu, saying why', async () => {
    const s = await selectDevice('auto', unavailable);
    assert.equal(s.device, 'cpu');
    assert.match(s.note, /cpu/);
    assert.match(s.note, /no GPU in this test/);
  });

  it('cuda + unavailable -> a device-unavailable error with the install command, never a fallback', async () => {
    await assert.rejects(selectDevice('cuda', unavailable), (err: Error) => {
      assert.ok(err instanceof VaeError);
      assert.equal(err.code, 'device-unavailable');
      assert.match(err.message, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
      assert.match(err.message, /no GPU in this test/);
      return true;
    });
  });

  it('cuda + available -> cuda', async () => {
    assert.equal((await selectDevice('cuda', available)).device, 'cuda');
  });

  it('cpu -> cpu without probing', async () => {
    const s = await selectDevice('cpu', mustNotProbe);
    assert.equal(s.device, 'cpu');
  });

  it('rejects an unknown choice, naming the valid ones', async () => {
    await assert.rejects(selectDevice('gpu' as never, available), (err: Error) =>
      err instanceof VaeError && err.code === 'input' && /device: "gpu" is not one of "auto", "cuda", "cpu"/.test(err.message));
  });

  it('an async detector is awaited', async () => {
    const s = await selectDevice('auto', async () => ({ available: false, reason: 'async reason' }));
    assert.match(s.note, /async reason/);
  });

  it('probing for CUDA turns TF32 off unless the user set NVIDIA_TF32_OVERRIDE', async () => {
    const saved = process.env.NVIDIA_TF32_OVERRIDE;
    try {
      delete process.env.NVIDIA_TF32_OVERRIDE;
      await selectDevice('cpu', mustNotProbe);
      assert.equal(process.env.NVIDIA_TF32_OVERRIDE, undefined, 'cpu leaves the environment alone');
      await selectDevice('auto', unavailable);
      assert.equal(process.env.NVIDIA_TF32_OVERRIDE, '0');
      process.env.NVIDIA_TF32_OVERRIDE = '1';
      await selectDevice('auto', available);
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
      assert.match(vae.deviceNote, /^device: cpu \(auto: CUDA unavailable: .{10}/);
    } finally {
      await vae.dispose();
    }
  });

  it('CUDA detected but a session cannot open on it: auto falls back, cuda fails', async () => {
    // The detector claims CUDA; creating the real sessions on CUDA then fails (no provider library).
    const vae = await loadVae(N2, { device: 'auto', detectCuda: available });
    try {
      assert.equal(vae.device, 'cpu');
      assert.match(vae.deviceNote, /a session on CUDA failed to open/);
      assert.equal((await vae.decode([0, 0])).count, 1);
    } finally {
      await vae.dispose();
    }
    await assert.rejects(loadVae(N2, { device: 'cuda', detectCuda: available }), (err: Error) =>
      err instanceof VaeError && err.code === 'device-unavailable' && /ONNXRUNTIME_NODE_INSTALL=cuda12/.test(err.message));
  });
});
