/**
 * The device resolver on a made-up backend: a 'gpu' with a probe, an 'npu' with a probe, and
 * a 'cpu' without one, whose probes and opens are scripted per test and logged in order.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  VaeError, deviceChoices, openDevice, planDevice, resolveDevice, type DeviceProbe, type DeviceTable,
} from '../src/index.js';
import { deviceNote } from '../src/device.js';

type Device = 'gpu' | 'npu' | 'cpu';

interface Script {
  probes?: Partial<Record<Device, DeviceProbe>>;
  /** The devices whose open throws, and what. */
  fails?: Partial<Record<Device, unknown>>;
}

/** A table whose probes and opens follow `script`; `log` lists each call ("probe gpu", "open cpu") in order. */
function backend(script: Script = {}): { table: DeviceTable<Device, string, string, string>; log: string[] } {
  const log: string[] = [];
  const entry = (name: Device, probed: boolean) => ({
    name,
    ...(probed ? { probe: (ctx: string) => { log.push(`probe ${name} ${ctx}`); return script.probes?.[name] ?? { available: true }; } } : {}),
    open: async (ctx: string) => {
      log.push(`open ${name} ${ctx}`);
      if (script.fails && name in script.fails) throw script.fails[name];
      return `sessions on ${name}`;
    },
    hint: `hint for ${name}`,
  });
  return { table: [entry('gpu', true), entry('npu', true), entry('cpu', false)], log };
}

const rejectsWith = async (p: Promise<unknown>, code: string, pattern: RegExp) => {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof VaeError, `expected a VaeError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
};

describe('resolveDevice', () => {
  test("the choices are 'auto' then the table's devices; a bad one is an input error naming it and them, before any probe", async () => {
    const { table, log } = backend();
    assert.deepEqual(deviceChoices(table), ['auto', 'gpu', 'npu', 'cpu']);
    await rejectsWith(resolveDevice(table, 'tpu' as never, 'p', 'o'), 'input', /^device: "tpu" is not one of "auto", "gpu", "npu", "cpu"$/);
    assert.deepEqual(log, []);
  });

  test("absent means 'auto': the first device whose probe and open succeed, nothing after it is probed", async () => {
    const { table, log } = backend();
    const r = await resolveDevice(table, undefined, 'p', 'o');
    assert.deepEqual(r, { device: 'gpu', value: 'sessions on gpu', attempts: [{ device: 'gpu', ok: true }], note: 'device: gpu (auto)' });
    assert.deepEqual(log, ['probe gpu p', 'open gpu o']);
  });

  test('auto skips what its probe says is unavailable, with the reason in the attempts and the note', async () => {
    const { table, log } = backend({ probes: { gpu: { available: false, reason: 'no adapter' } } });
    const r = await resolveDevice(table, 'auto', 'p', 'o');
    assert.equal(r.device, 'npu');
    assert.deepEqual(r.attempts, [{ device: 'gpu', ok: false, stage: 'probe', reason: 'no adapter' }, { device: 'npu', ok: true }]);
    assert.equal(r.note, 'device: npu (auto; gpu skipped: no adapter)');
    assert.deepEqual(log, ['probe gpu p', 'probe npu p', 'open npu o'], 'an unavailable device is never opened');
  });

  test('auto falls back past failed opens, probing each next candidate, and records every attempt in order', async () => {
    const { table, log } = backend({
      probes: { npu: { available: false, reason: 'no driver' } },
      fails: { gpu: new Error('shader compilation failed\n  at native code') },
    });
    const r = await resolveDevice(table, 'auto', 'p', 'o');
    assert.equal(r.device, 'cpu');
    assert.equal(r.value, 'sessions on cpu');
    assert.deepEqual(r.attempts, [
      { device: 'gpu', ok: false, stage: 'open', reason: 'shader compilation failed\n  at native code' },
      { device: 'npu', ok: false, stage: 'probe', reason: 'no driver' },
      { device: 'cpu', ok: true },
    ]);
    assert.deepEqual(log, ['probe gpu p', 'open gpu o', 'probe npu p', 'open cpu o']);
    // One line: an error's first line only.
    assert.equal(r.note, 'device: cpu (auto; gpu failed: shader compilation failed; npu skipped: no driver)');
  });

  test('an explicit device whose probe says unavailable is device-unavailable naming it, the reason and the hint; nothing is opened', async () => {
    const { table, log } = backend({ probes: { gpu: { available: false, reason: 'no adapter' } } });
    await rejectsWith(resolveDevice(table, 'gpu', 'p', 'o'), 'device-unavailable', /^device "gpu" is not available: no adapter\. hint for gpu$/);
    assert.deepEqual(log, ['probe gpu p']);
  });

  test('an explicit device whose open fails is a session error naming it and why, never a fallback', async () => {
    const boom = new Error('boom');
    const { table, log } = backend({ fails: { gpu: boom } });
    await assert.rejects(resolveDevice(table, 'gpu', 'p', 'o'), (err: unknown) => {
      assert.ok(err instanceof VaeError);
      assert.equal(err.code, 'session');
      assert.equal(err.message, 'Could not create the ONNX Runtime sessions on gpu: boom. hint for gpu');
      assert.equal(err.cause, boom);
      return true;
    });
    assert.deepEqual(log, ['probe gpu p', 'open gpu o']);
  });

  test("a VaeError thrown by an explicit device's open is kept as it is", async () => {
    const own = new VaeError('session', 'model.json: onnxruntime cannot load a graph of this model');
    const { table } = backend({ fails: { cpu: own } });
    await assert.rejects(resolveDevice(table, 'cpu', 'p', 'o'), (err: unknown) => err === own);
  });

  test('an explicit device is the only candidate; one without a probe is opened directly', async () => {
    const { table, log } = backend();
    const r = await resolveDevice(table, 'cpu', 'p', 'o');
    assert.deepEqual(r, { device: 'cpu', value: 'sessions on cpu', attempts: [{ device: 'cpu', ok: true }], note: 'device: cpu (requested)' });
    assert.deepEqual(log, ['open cpu o']);
  });

  test('auto with every device failing is a session error listing each attempt', async () => {
    const oom = new Error('out of memory');
    const { table } = backend({ probes: { gpu: { available: false } }, fails: { npu: 'lost', cpu: oom } });
    await rejectsWith(resolveDevice(table, 'auto', 'p', 'o'), 'session',
      /^No device could run the model \(gpu skipped: its probe gave no reason; npu failed: lost; cpu failed: out of memory\)$/);
    await assert.rejects(resolveDevice(table, 'auto', 'p', 'o'), (err: Error) => err.cause === oom);
  });
});

describe('planDevice / openDevice', () => {
  test('the plan probes before anything is opened, and an explicit unavailable device fails there', async () => {
    const { table, log } = backend({ probes: { gpu: { available: false, reason: 'no adapter' } } });
    const plan = await planDevice(table, 'auto', 'p');
    assert.deepEqual(log, ['probe gpu p', 'probe npu p']);
    assert.deepEqual(plan.attempts, [{ device: 'gpu', ok: false, stage: 'probe', reason: 'no adapter' }]);
    const r = await openDevice(plan, 'o');
    assert.equal(r.device, 'npu');
    assert.deepEqual(log, ['probe gpu p', 'probe npu p', 'open npu o']);
    await rejectsWith(planDevice(table, 'gpu', 'p'), 'device-unavailable', /device "gpu" is not available: no adapter/);
  });
});

describe('deviceNote', () => {
  test('one format: the device, whether it was requested or auto, and why others were passed over', () => {
    assert.equal(deviceNote('wasm', 'wasm', [{ device: 'wasm', ok: true }]), 'device: wasm (requested)');
    assert.equal(deviceNote('auto', 'cuda', [{ device: 'cuda', ok: true }]), 'device: cuda (auto)');
    assert.equal(
      deviceNote('auto', 'cpu', [{ device: 'cuda', ok: false, stage: 'probe', reason: 'not installed' }, { device: 'cpu', ok: true }]),
      'device: cpu (auto; cuda skipped: not installed)',
    );
    assert.equal(
      deviceNote('auto', 'wasm', [{ device: 'webgpu', ok: false, stage: 'open', reason: 'lost\nstack' }, { device: 'wasm', ok: true }]),
      'device: wasm (auto; webgpu failed: lost)',
    );
  });
});
