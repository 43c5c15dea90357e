/** Optimisers vs float64 re-implementations of torch AdamW / SGD and mmpretrain LARS; state round trip; no leaks. */
import { beforeAll, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { ParamStore, type Layout } from '../../src/nn/params.js';
import { createOptimizer, type GroupSettings, type OptimizerSpec } from '../../src/engine/optim.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { relErr } from '../helpers/golden.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

/** Deterministic values in [-1, 1) (LCG), different per seed. */
function values(n: number, seed: number): number[] {
  let s = (seed * 2654435761) >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

const PARAMS: { name: string; shape: number[]; layout: Layout; group: GroupSettings }[] = [
  { name: 'fc.weight', shape: [3, 4], layout: 'linear', group: { lrScale: 1, weightDecay: 0.05 } },
  { name: 'fc.bias', shape: [4], layout: 'plain', group: { lrScale: 1, weightDecay: 0 } },
  { name: 'conv.weight', shape: [2, 2, 3, 2], layout: 'conv', group: { lrScale: 0.65, weightDecay: 0.1 } },
  { name: 'ln.weight', shape: [5], layout: 'plain', group: { lrScale: 0.4225, weightDecay: 0 } },
];
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

function makeStore(): ParamStore {
  const p = new ParamStore();
  PARAMS.forEach((d, i) => p.add(d.name, tf.tensor(values(size(d.shape), 100 + i), d.shape), d.layout));
  return p;
}
const groups = () => new Map(PARAMS.map((d) => [d.name, d.group]));
/** Gradient of parameter i at step t (1-based); step 2 scales them up so norms differ between steps. */
const gradValues = (i: number, t: number) => values(size(PARAMS[i].shape), 1000 * t + i).map((x) => x * (t === 2 ? 3 : 1));

function grads(t: number): Map<string, tf.Tensor> {
  return new Map(PARAMS.map((d, i) => [d.name, tf.tensor(gradValues(i, t), d.shape)]));
}

// ---- float64 references (written from the torch / mmpretrain update rules) ----
type Ref = { p: number[]; s: Record<string, number[]>; t: number };

function refAdamW(r: Ref, g: number[], lr: number, wd: number, b1: number, b2: number, eps: number): void {
  r.t += 1;
  const m = (r.s.m ??= g.map(() => 0));
  const v = (r.s.v ??= g.map(() => 0));
  for (let k = 0; k < g.length; k++) {
    r.p[k] *= 1 - lr * wd;
    m[k] = b1 * m[k] + (1 - b1) * g[k];
    v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
    const mHat = m[k] / (1 - b1 ** r.t);
    const vHat = v[k] / (1 - b2 ** r.t);
    r.p[k] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
  }
}

function refSgd(r: Ref, g: number[], lr: number, wd: number, mu: number, nesterov: boolean): void {
  r.t += 1;
  const d = g.map((x, k) => x + wd * r.p[k]);
  const buf = r.t === 1 ? d.slice() : r.s.buf.map((b, k) => mu * b + d[k]);
  r.s.buf = buf;
  for (let k = 0; k < g.length; k++) r.p[k] -= lr * (nesterov ? d[k] + mu * buf[k] : buf[k]);
}

function refLars(r: Ref, g: number[], lr: number, wd: number, mu: number, eta: number, eps: number): void {
  r.t += 1;
  const norm = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  const wn = norm(r.p);
  const gn = norm(g);
  const local = wn !== 0 && gn !== 0 ? (eta * wn) / (gn + wd * wn + eps) : 1;
  const d = g.map((x, k) => (x + wd * r.p[k]) * local * lr);
  const buf = r.t === 1 ? d.slice() : r.s.buf.map((b, k) => mu * b + d[k]);
  r.s.buf = buf;
  for (let k = 0; k < g.length; k++) r.p[k] -= buf[k];
}

const LRS = [1e-2, 3e-2, 2e-2];

const CASES: { spec: OptimizerSpec; ref: (r: Ref, g: number[], lr: number, wd: number) => void }[] = [
  { spec: { type: 'AdamW', betas: [0.9, 0.95], eps: 1e-8 }, ref: (r, g, lr, wd) => refAdamW(r, g, lr, wd, 0.9, 0.95, 1e-8) },
  { spec: { type: 'AdamW' }, ref: (r, g, lr, wd) => refAdamW(r, g, lr, wd, 0.9, 0.999, 1e-8) },
  { spec: { type: 'SGD', momentum: 0.9 }, ref: (r, g, lr, wd) => refSgd(r, g, lr, wd, 0.9, false) },
  { spec: { type: 'SGD', momentum: 0.9, nesterov: true }, ref: (r, g, lr, wd) => refSgd(r, g, lr, wd, 0.9, true) },
  { spec: { type: 'SGD' }, ref: (r, g, lr, wd) => refSgd(r, g, lr, wd, 0, false) },
  { spec: { type: 'LARS', momentum: 0.9 }, ref: (r, g, lr, wd) => refLars(r, g, 640 * lr, wd, 0.9, 1e-3, 1e-8) },
];

for (const { spec, ref } of CASES) {
  describe(`${spec.type} ${JSON.stringify(spec)}`, () => {
    // LARS runs at a large lr (the trust ratio ~1e-3 scales it down); large enough that float32 rounding of the
    // parameter does not swamp the update being compared.
    const lrMul = spec.type === 'LARS' ? 640 : 1;

    test('3 steps match the float64 reference, without leaking tensors', () => {
      const store = makeStore();
      const opt = createOptimizer(spec, store, groups());
      const refs: Ref[] = PARAMS.map((d, i) => ({ p: values(size(d.shape), 100 + i), s: {}, t: 0 }));
      const before = tf.memory().numTensors;
      for (let t = 1; t <= 3; t++) {
        const g = grads(t);
        opt.step(g, LRS[t - 1] * lrMul);
        tf.dispose([...g.values()]);
        expect(tf.memory().numTensors, `tensors after step ${t}`).toBe(before);
        PARAMS.forEach((d, i) => ref(refs[i], gradValues(i, t), LRS[t - 1] * d.group.lrScale, d.group.weightDecay));
      }
      expect(opt.stepCount).toBe(3);
      PARAMS.forEach((d, i) => {
        const got = store.get(d.name).dataSync();
        const start = values(size(d.shape), 100 + i);
        // compare the parameter and the update itself (the update is small against the parameter)
        expect(relErr(got, refs[i].p), d.name).toBeLessThan(1e-6);
        const du = Array.from(got, (x, k) => x - start[k]);
        const dr = refs[i].p.map((x, k) => x - start[k]);
        expect(relErr(du, dr), `${d.name} update`).toBeLessThan(2e-4);
      });
      opt.dispose();
      store.dispose();
    });

    test('state saved after step 2 and loaded into a fresh optimiser gives a bit-identical step 3', () => {
      const a = makeStore();
      const optA = createOptimizer(spec, a, groups());
      for (let t = 1; t <= 2; t++) {
        const g = grads(t);
        optA.step(g, LRS[t - 1] * lrMul);
        tf.dispose([...g.values()]);
      }
      // through the safetensors bytes, as a checkpoint would
      const bytes = serializeSafetensors(optA.state());
      const b = makeStore();
      b.load(a.toStateDict(), { strict: true });
      const optB = createOptimizer(spec, b, groups());
      optB.loadState(parseSafetensors(bytes).tensors, 'state.safetensors');
      expect(optB.stepCount).toBe(2);
      for (const opt of [optA, optB]) {
        const g = grads(3);
        opt.step(g, LRS[2] * lrMul);
        tf.dispose([...g.values()]);
      }
      for (const d of PARAMS) expect(Array.from(b.get(d.name).dataSync()), d.name).toEqual(Array.from(a.get(d.name).dataSync()));
      [optA, optB].forEach((o) => o.dispose());
      [a, b].forEach((s) => s.dispose());
    });
  });
}

describe('optimiser errors and conventions', () => {
  test('state keys are torch-like and in PyTorch layout', () => {
    const store = makeStore();
    const opt = createOptimizer({ type: 'AdamW' }, store, groups());
    const st = opt.state();
    expect(st.get('optimizer.fc.weight.exp_avg')!.shape).toEqual([4, 3]);
    expect(st.get('optimizer.conv.weight.exp_avg_sq')!.shape).toEqual([2, 3, 2, 2]);
    expect(st.get('optimizer.step')!.dtype).toBe('I64');
    opt.dispose();
    store.dispose();
  });

  test('missing group, unknown gradient, wrong shape and missing state fail loudly', () => {
    const store = makeStore();
    expect(() => createOptimizer({ type: 'AdamW' }, store, new Map())).toThrow(/fc\.weight/);
    const opt = createOptimizer({ type: 'SGD', momentum: 0.9 }, store, groups());
    const g = tf.zeros([1]);
    expect(() => opt.step(new Map([['nope', g]]), 0.1)).toThrow(/nope/);
    expect(() => opt.step(new Map([['fc.bias', g]]), 0.1)).toThrow(/fc\.bias.*\[1\]/);
    g.dispose();
    expect(() => opt.loadState(new Map([['optimizer.step', { dtype: 'I64', shape: [], data: Int32Array.of(1) }]]), 'x.safetensors')).toThrow(/x\.safetensors.*optimizer\.fc\.weight\.step/);
    opt.dispose();
    store.dispose();
  });

  test('a per-group lr function receives the lrScale', () => {
    const store = makeStore();
    const opt = createOptimizer({ type: 'SGD' }, store, groups());
    const seen: number[] = [];
    const g = grads(1);
    opt.step(g, (s) => (seen.push(s), 0));
    tf.dispose([...g.values()]);
    expect(seen).toEqual(PARAMS.map((d) => d.group.lrScale));
    opt.dispose();
    store.dispose();
  });
});

describe('AdamW with stateInHostMemory (state outside the tensor heap)', () => {
  for (const spec of CASES.filter((c) => c.spec.type === 'AdamW').map((c) => c.spec)) {
    test(`${JSON.stringify(spec)}: bitwise the tensor path over 3 steps; its state loads into the tensor optimiser and back`, () => {
      const a = makeStore();
      const b = makeStore();
      const optA = createOptimizer(spec, a, groups());
      const optB = createOptimizer(spec, b, groups(), { stateInHostMemory: true });
      const before = tf.memory().numTensors;
      for (let t = 1; t <= 3; t++) {
        for (const opt of [optA, optB]) {
          const g = grads(t);
          opt.step(g, LRS[t - 1]);
          tf.dispose([...g.values()]);
        }
        for (const d of PARAMS) expect(Array.from(b.get(d.name).dataSync()), `${d.name} step ${t}`).toEqual(Array.from(a.get(d.name).dataSync()));
      }
      expect(tf.memory().numTensors).toBe(before);
      // same state bytes (PyTorch layout) from both modes
      const sa = optA.state();
      const sb = optB.state();
      expect([...sb.keys()].sort()).toEqual([...sa.keys()].sort());
      for (const [k, t] of sa) expect(Array.from(sb.get(k)!.data), k).toEqual(Array.from(t.data));
      // host state -> tensor optimiser and tensor state -> host optimiser continue identically
      const c = makeStore();
      c.load(a.toStateDict(), { strict: true });
      const optC = createOptimizer(spec, c, groups(), { stateInHostMemory: true });
      optC.loadState(parseSafetensors(serializeSafetensors(sa)).tensors);
      for (const opt of [optA, optC]) {
        const g = grads(2);
        opt.step(g, 5e-3);
        tf.dispose([...g.values()]);
      }
      for (const d of PARAMS) expect(Array.from(c.get(d.name).dataSync()), d.name).toEqual(Array.from(a.get(d.name).dataSync()));
      [optA, optB, optC].forEach((o) => o.dispose());
      [a, b, c].forEach((s) => s.dispose());
    });
  }
  test('SGD refuses it', () => {
    const s = makeStore();
    expect(() => createOptimizer({ type: 'SGD' }, s, groups(), { stateInHostMemory: true })).toThrow(/AdamW only/);
    s.dispose();
  });
});
