/**
 * Node's device table on @vae/runtime-core's resolver (whose decisions runtime-core's tests
 * cover). The table runs here with injected CUDA and WebGPU detectors and a stand-in open; the
 * real detectors and the real fallback run too (these machines have no CUDA provider, so they
 * exercise the "unavailable" side; the CUDA path itself needs an NVIDIA GPU). WebGPU runs for
 * real on SwiftShader's Vulkan driver, which this file selects before anything loads Vulkan.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { toleranceFor } from '@vae/models';
import { resolveDevice } from '@vae/runtime-core';
import {
  DEVICE_CHOICES, NODE_DEVICES, SWIFTSHADER_ICD, VaeError, detectCuda, detectWebGpu, isSoftwareAdapter, loadVae,
  type CudaDetector, type WebGpuDetector,
} from '../src/index.js';
import { N2, N64 } from './helpers.js';

// The library never changes the user's Vulkan setup; the test picks SwiftShader (a software
// Vulkan from Debian's chromium) when nothing else is configured. CI installs it: there it must run.
const swiftshader = existsSync(SWIFTSHADER_ICD);
if (swiftshader) process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
const skipWebGpu = !swiftshader && !process.env.CI && `no SwiftShader (${SWIFTSHADER_ICD})`;

const available: CudaDetector = () => ({ available: true });
const unavailable: CudaDetector = () => ({ available: false, reason: 'no GPU in this test' });
const mustNotProbe: CudaDetector = () => assert.fail('cpu must not probe for CUDA');

const noAdapter: WebGpuDetector = () => ({ available: false, reason: 'no adapter in this test' });
const hardware: WebGpuDetector = () => ({ available: true, adapter: { vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA RTX A4000', software: false } });
const software: WebGpuDetector = () => ({ available: true, adapter: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0', software: true } });

/** The table's probes with the detectors, and opens that succeed without sessions: only the decision. */
const select = (choice: string, detect: CudaDetector, detectWebGpu: WebGpuDetector = noAdapter) =>
  resolveDevice(NODE_DEVICES.map((e) => ({ ...e, open: async () => undefined })), choice as never, { device: choice as never, detectCuda: detect, detectWebGpu }, undefined);

describe('the Node device table', () => {
  it("the choices are 'auto', 'cuda', 'webgpu', 'cpu', and 'auto' tries them in that order", () => {
    assert.deepEqual(DEVICE_CHOICES, ['auto', 'cuda', 'webgpu', 'cpu']);
  });

  it('auto + CUDA unavailable + a hardware adapter -> webgpu; CUDA available -> cuda', async () => {
    const s = await select('auto', unavailable, hardware);
    assert.equal(s.device, 'webgpu');
    assert.equal(s.note, 'device: webgpu (auto; cuda skipped: no GPU in this test)');
    assert.equal((await select('auto', available, hardware)).device, 'cuda');
  });

  it('auto never picks a software adapter, and says so; webgpu asked for by name runs on it', async () => {
    const s = await select('auto', unavailable, software);
    assert.equal(s.device, 'cpu');
    assert.equal(s.note, 'device: cpu (auto; cuda skipped: no GPU in this test; webgpu skipped: software adapter (SwiftShader driver 5.0.0, google/swiftshader), used only when device "webgpu" is asked for)');
    assert.equal((await select('webgpu', mustNotProbe, software)).device, 'webgpu');
  });

  it('webgpu + no adapter -> a device-unavailable error saying what WebGPU needs, never a fallback', async () => {
    await assert.rejects(select('webgpu', mustNotProbe, noAdapter), (err: Error) => {
      assert.ok(err instanceof VaeError);
      assert.equal(err.code, 'device-unavailable');
      assert.match(err.message, /^device "webgpu" is not available: no adapter in this test\. WebGPU runs on Dawn, .*libvulkan1.*VK_ICD_FILENAMES=/);
      return true;
    });
  });

  it('software adapters are told apart by their names or the fallback flag', () => {
    assert.equal(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' }), true);
    assert.equal(isSoftwareAdapter({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }), true);
    assert.equal(isSoftwareAdapter({ description: 'Mesa lavapipe' }), true);
    assert.equal(isSoftwareAdapter({ description: 'Microsoft Basic Render Driver' }), true);
    assert.equal(isSoftwareAdapter({ vendor: 'x', isFallbackAdapter: true }), true);
    assert.equal(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA RTX A4000', isFallbackAdapter: false }), false);
  });

  it('auto + CUDA available -> cuda', async () => {
    const s = await select('auto', available);
    assert.equal(s.device, 'cuda');
    assert.equal(s.note, 'device: cuda (auto)');
  });

  it('auto + CUDA unavailable -> cpu, saying why', async () => {
    const s = await select('auto', unavailable);
    assert.equal(s.device, 'cpu');
    assert.equal(s.note, 'device: cpu (auto; cuda skipped: no GPU in this test; webgpu skipped: no adapter in this test)');
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
      err instanceof VaeError && err.code === 'input' && /device: "gpu" is not one of "auto", "cuda", "webgpu", "cpu"/.test(err.message));
  });

  it('an async detector is awaited; one without a reason gets a default', async () => {
    assert.match((await select('auto', async () => ({ available: false, reason: 'async reason' }))).note, /cuda skipped: async reason; /);
    assert.match((await select('auto', () => ({ available: false }))).note, /cuda skipped: the CUDA provider is not available; /);
    assert.match((await select('auto', unavailable, () => ({ available: false }))).note, /webgpu skipped: no WebGPU adapter\)$/);
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
      if (swiftshader) assert.match(vae.deviceNote, /; webgpu skipped: software adapter \(SwiftShader/);
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

describe('WebGPU on SwiftShader (onnxruntime-node\'s WebGPU execution provider on Dawn, Vulkan)', { skip: skipWebGpu }, () => {
  it('detectWebGpu finds the SwiftShader adapter and calls it software', async () => {
    const probe = await detectWebGpu();
    assert.equal(probe.available, true, probe.reason);
    assert.equal(probe.adapter?.software, true);
    assert.match(probe.adapter!.description, /SwiftShader/);
  });

  for (const [name, dir] of [['n = 64', N64], ['n = 2', N2]] as const) {
    it(`device webgpu decodes the released ${name} model within the GPU fp32 tolerance of the CPU; fp16 and int8 load`, async () => {
      const cpu = await loadVae(dir, { device: 'cpu' });
      const gpu = await loadVae(dir, { device: 'webgpu' });
      try {
        assert.equal(gpu.device, 'webgpu');
        assert.match(gpu.deviceNote, /^device: webgpu \(requested\); adapter: SwiftShader driver [\d.]+, google\/swiftshader$/);
        const z = Float32Array.from({ length: 8 * cpu.latentSize }, (_, i) => 3 * Math.sin(i * 0.7));
        const [a, b] = [(await cpu.decode(z)).pixels, (await gpu.decode(z)).pixels];
        const err = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
        assert.ok(err <= toleranceFor('node-webgpu', 'fp32', 'x_hat'), `max |webgpu - cpu| = ${err}`);
        const mu = [(await cpu.encode(a)).mu, (await gpu.encode(a)).mu];
        assert.ok(mu[0].every((v, i) => Math.abs(v - mu[1][i]) <= toleranceFor('node-webgpu', 'fp32', 'mu')), 'encoder mu');
      } finally {
        await Promise.all([cpu.dispose(), gpu.dispose()]);
      }
      for (const precision of ['fp16', 'int8'] as const) {
        const v = await loadVae(dir, { device: 'webgpu', precision });
        try {
          assert.equal(v.device, 'webgpu');
          assert.equal((await v.decode(new Float32Array(2 * v.latentSize))).count, 2);
        } finally {
          await v.dispose();
        }
      }
    });
  }
});
