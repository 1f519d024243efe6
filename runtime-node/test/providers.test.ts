/**
 * Execution provider selection. The decision logic runs on injected CUDA detectors; the
 * real detector and the real fallback run here too (these machines have no CUDA provider,
 * so they exercise the "unavailable" side; the CUDA path itself needs an NVIDIA GPU).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Vae, detectCuda, selectExecutionProvider, ExecutionProviderError, type CudaDetector } from '../src/index.js';
import { N2 } from './helpers.js';

const available: CudaDetector = () => ({ available: true });
const unavailable: CudaDetector = () => ({ available: false, reason: 'no GPU in this test' });
const mustNotProbe: CudaDetector = () => assert.fail('cpu must not probe for CUDA');

describe('selectExecutionProvider', () => {
  it('auto + CUDA available -> cuda', async () => {
    const s = await selectExecutionProvider('auto', available);
    assert.equal(s.provider, 'cuda');
    assert.match(s.message, /cuda/);
  });

  it('auto + CUDA unavailable -> cpu, saying why', async () => {
    const s = await selectExecutionProvider('auto', unavailable);
    assert.equal(s.provider, 'cpu');
    assert.match(s.message, /cpu/);
    assert.match(s.message, /no GPU in this test/);
  });

  it('cuda + unavailable -> an error with the install command, never a fallback', async () => {
    await assert.rejects(selectExecutionProvider('cuda', unavailable), (err: Error) => {
      assert.ok(err instanceof ExecutionProviderError);
      assert.match(err.message, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
      assert.match(err.message, /no GPU in this test/);
      return true;
    });
  });

  it('cuda + available -> cuda', async () => {
    assert.equal((await selectExecutionProvider('cuda', available)).provider, 'cuda');
  });

  it('cpu -> cpu without probing', async () => {
    const s = await selectExecutionProvider('cpu', mustNotProbe);
    assert.equal(s.provider, 'cpu');
  });

  it('rejects an unknown choice, naming the valid ones', async () => {
    await assert.rejects(selectExecutionProvider('gpu' as never, available), /unknown execution provider "gpu".*auto, cuda, cpu/);
  });

  it('an async detector is awaited', async () => {
    const s = await selectExecutionProvider('auto', async () => ({ available: false, reason: 'async reason' }));
    assert.match(s.message, /async reason/);
  });
});

describe('the real CUDA detector and fallbacks (no CUDA provider on this machine)', () => {
  it('detectCuda reports unavailable with a reason', async () => {
    const probe = await detectCuda();
    assert.equal(probe.available, false, 'this test assumes a machine without the CUDA provider');
    assert.ok(probe.reason && probe.reason.length > 10);
  });

  it('Vae.load cuda fails with the install hint and opens nothing', async () => {
    await assert.rejects(Vae.load(N2, { executionProvider: 'cuda' }), /execution provider "cuda" is not available.*ONNXRUNTIME_NODE_INSTALL=cuda12/s);
  });

  it('Vae.load auto falls back to cpu and says so', async () => {
    const messages: string[] = [];
    const vae = await Vae.load(N2, { executionProvider: 'auto', onMessage: (m) => messages.push(m) });
    try {
      assert.equal(vae.executionProvider, 'cpu');
      assert.deepEqual(messages, [vae.providerMessage]);
      assert.match(vae.providerMessage, /cpu \(auto: CUDA unavailable/);
    } finally {
      await vae.release();
    }
  });

  it('CUDA detected but a session cannot open on it: auto falls back, cuda fails', async () => {
    // The detector claims CUDA; creating the real sessions on CUDA then fails (no provider library).
    const vae = await Vae.load(N2, { executionProvider: 'auto', detectCuda: available });
    try {
      assert.equal(vae.executionProvider, 'cpu');
      assert.match(vae.providerMessage, /a session on CUDA failed to open/);
      assert.equal((await vae.decode([0, 0])).count, 1);
    } finally {
      await vae.release();
    }
    await assert.rejects(Vae.load(N2, { executionProvider: 'cuda', detectCuda: available }), /ONNXRUNTIME_NODE_INSTALL=cuda12/);
  });
});
