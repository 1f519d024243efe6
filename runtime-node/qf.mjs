import * as ort from 'onnxruntime-node';
import { Vae, seededNormals } from './dist/index.js';
const B = 4096, n = 64;
const z = seededNormals(B*n, 1);
const vae = await Vae.load(undefined, { executionProvider: 'cpu', threads: 2 });
const s = await ort.InferenceSession.create('../models/released/mnist-n64-beta1/decoder.onnx', { executionProviders: ['cpu'], intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
const out = new Float32Array(B*784);
const runs = []; for (let i=0;i<4;i++) runs.push([{z:new ort.Tensor('float32', z.subarray(i*1024*n,(i+1)*1024*n),[1024,n])},{x_hat:new ort.Tensor('float32', out.subarray(i*1024*784,(i+1)*1024*784),[1024,784])}]);
const plans = {
  raw: async () => { for (const [f,o] of runs) await s.run(f,o); },
  rawFreshOut: async () => { const o2 = new Float32Array(B*784); for (let i=0;i<4;i++) await s.run(runs[i][0], {x_hat:new ort.Tensor('float32', o2.subarray(i*1024*784,(i+1)*1024*784),[1024,784])}); },
  rawOrtAlloc: async () => { for (const [f] of runs) await s.run(f); },
  vae: () => vae.decode(z),
  ortAllocCopy: async () => { const res = new Float32Array(B*784); for (let i=0;i<4;i++) { const r = await s.run(runs[i][0]); res.set(r.x_hat.data, i*1024*784); } },
  ortAllocWhole: async () => { await s.run({z: new ort.Tensor('float32', z, [B, n])}); },
};
for (const fn of Object.values(plans)) for (let i=0;i<3;i++) await fn();
const res = Object.fromEntries(Object.keys(plans).map(k => [k, []]));
for (let r=0;r<9;r++) for (const [k, fn] of Object.entries(plans)) { const t0=performance.now(); for (let i=0;i<5;i++) await fn(); res[k].push(5*B/((performance.now()-t0)/1000)); }
for (const [k, v] of Object.entries(res)) { v.sort((a,b)=>a-b); console.log(k.padEnd(12), 'median', Math.round(v[4]), 'best', Math.round(v[8])); }
