/**
 * The CPU engine's kernel overrides (src/backend/registry.ts) against float64 reference loops, on random shapes
 * including transposes, batch broadcasting and odd sizes. Runs on whichever engine this process has (native addon
 * unless MFF_NATIVE=0); kernels-both.test.ts reruns this file and the pretrain golden test with MFF_NATIVE=0.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { ParamStore } from '../../src/nn/params.js';
import { ffn, linear } from '../../src/nn/layers.js';
import { adamwInPlace, adamwUpdate, addLayerNorm, attentionCore, batchNormTrainFused, gelu, layerNorm, linearFused } from '../../src/backend/fused.js';
import { loadNative, nativeAvailable, nativeThreads } from '../../src/backend/native.js';
import { broadcastPlan } from '../../src/backend/overrides-math.js';
import { registerFastKernels } from '../../src/backend/registry.js';

let seed = 12345;
function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
const randn = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const stridesOf = (s: number[]) => s.map((_, i) => prod(s.slice(i + 1)));

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) || !Number.isFinite(w)) {
      if (!Object.is(g, w) && !(Number.isNaN(g) && Number.isNaN(w))) throw new Error(`${what}: [${i}] got ${g}, want ${w}`);
      continue;
    }
    const e = Math.abs(g - w) / (1 + Math.abs(w));
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  expect(worst, `${what}: worst error at [${at}] got ${got[at]} want ${want[at]}`).toBeLessThanOrEqual(tol);
}

/** tfjs matMul semantics: flattened batch index modulo each operand's batch size. */
function refMatMul(a: Float32Array, as: number[], b: Float32Array, bs: number[], ta: boolean, tb: boolean): Float64Array {
  const ra = as.length;
  const rb = bs.length;
  const M = ta ? as[ra - 1] : as[ra - 2];
  const K = ta ? as[ra - 2] : as[ra - 1];
  const N = tb ? bs[rb - 2] : bs[rb - 1];
  const bA = prod(as.slice(0, -2));
  const bB = prod(bs.slice(0, -2));
  const outer = tf.backend_util.assertAndGetBroadcastShape(as.slice(0, -2), bs.slice(0, -2));
  const batch = prod(outer);
  const modulo = batch === Math.max(bA, bB);
  // numpy broadcasting of the batch index (when tfjs's modulo rule does not cover the output)
  const bidx = (q: number, s: number[]) => {
    const pad = [...Array(outer.length - s.length).fill(1), ...s];
    const st = stridesOf(pad);
    let o = 0;
    for (let d = outer.length - 1, rem = q; d >= 0; d--) {
      if (pad[d] !== 1) o += (rem % outer[d]) * st[d];
      rem = Math.floor(rem / outer[d]);
    }
    return o;
  };
  const out = new Float64Array(batch * M * N);
  for (let q = 0; q < batch; q++) {
    const oa = (modulo ? q % bA : bidx(q, as.slice(0, -2))) * M * K;
    const ob = (modulo ? q % bB : bidx(q, bs.slice(0, -2))) * K * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[oa + (ta ? k * M + i : i * K + k)] * b[ob + (tb ? j * K + k : k * N + j)];
        out[q * M * N + i * N + j] = s;
      }
  }
  return out;
}

function refTranspose(x: ArrayLike<number>, shape: number[], perm: number[]): number[] {
  const out: number[] = [];
  const os = perm.map((p) => shape[p]);
  const is = stridesOf(shape);
  const n = prod(os);
  for (let f = 0; f < n; f++) {
    let rem = f;
    let src = 0;
    for (let d = os.length - 1; d >= 0; d--) {
      src += (rem % os[d]) * is[perm[d]];
      rem = Math.floor(rem / os[d]);
    }
    out.push(x[src]);
  }
  return out;
}

/** Numpy-style broadcasting reference for a binary op. */
function refBinary(a: Float32Array, as: number[], b: Float32Array, bs: number[], f: (x: number, y: number) => number): { v: number[]; shape: number[] } {
  const r = Math.max(as.length, bs.length);
  const pa = [...Array(r - as.length).fill(1), ...as];
  const pb = [...Array(r - bs.length).fill(1), ...bs];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const sa = stridesOf(pa);
  const sb = stridesOf(pb);
  const v: number[] = [];
  for (let i = 0; i < prod(shape); i++) {
    let rem = i;
    let ia = 0;
    let ib = 0;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
      if (pa[d] !== 1) ia += c * sa[d];
      if (pb[d] !== 1) ib += c * sb[d];
    }
    v.push(f(a[ia], b[ib]));
  }
  return { v, shape };
}

function erf64(x: number): number {
  // series / continued fraction accurate to ~1e-12 is overkill; A&S 7.1.26 in float64 is within 1.5e-7
  const s = Math.sign(x);
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return s * y;
}

let tensors0 = 0;
beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
});
beforeEach(() => {
  tensors0 = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors, 'tensor leak').toBe(tensors0);
});

describe(`fast kernels (${process.env.MFF_NATIVE === '0' ? 'MFF_NATIVE=0' : 'native if built'})`, () => {
  test('registration reports the engine', () => {
    const r = registerFastKernels();
    expect(r.native).toBe(nativeAvailable());
    if (process.env.MFF_NATIVE === '0') expect(r.native).toBe(false);
    expect(r.kernels).toContain(r.native ? 'BatchMatMul*' : 'BatchMatMul');
    expect(r.kernels).toContain('Transpose' + (r.native ? '*' : ''));
    // one BLAS thread per test process (MFF_BLAS_THREADS unset), none without the addon
    if (!process.env.MFF_BLAS_THREADS) expect(nativeThreads()).toBe(r.native ? 1 : 0);
  });

  const mm: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[1, 1], [1, 1], false, false],
    [[17, 65], [65, 33], false, false],
    [[33, 17], [65, 33], true, true],
    [[2, 3, 5, 7], [2, 3, 7, 4], false, false],
    [[2, 3, 7, 5], [2, 3, 4, 7], true, true],
    [[2, 3, 5, 7], [7, 4], false, false],
    [[4, 5], [3, 5, 6], false, false],
    [[3, 1, 5, 7], [3, 6, 7], false, true],
    [[6, 5, 7], [1, 7, 2], false, false],
  ];
  for (const [as, bs, ta, tb] of mm) {
    // Stock tfjs (the MFF_NATIVE=0 path) computes only max(batchA, batchB) products when both batch shapes
    // broadcast ([3,1] with [3]) and returns a tensor of the wrong size; the native kernel broadcasts properly.
    const both = prod(tf.backend_util.assertAndGetBroadcastShape(as.slice(0, -2), bs.slice(0, -2))) !== Math.max(prod(as.slice(0, -2)), prod(bs.slice(0, -2)));
    test.skipIf(both && !nativeAvailable())(`matMul ${JSON.stringify(as)} x ${JSON.stringify(bs)} tA=${ta} tB=${tb}`, () => {
      const av = randn(prod(as));
      const bv = randn(prod(bs));
      const out = tf.tidy(() => tf.matMul(tf.tensor(av, as), tf.tensor(bv, bs), ta, tb));
      const want = refMatMul(av, as, bv, bs, ta, tb);
      const M = ta ? as[as.length - 1] : as[as.length - 2];
      const N = tb ? bs[bs.length - 2] : bs[bs.length - 1];
      const outer = tf.backend_util.assertAndGetBroadcastShape(as.slice(0, -2), bs.slice(0, -2));
      expect(out.shape).toEqual([...outer, M, N]);
      expectClose(out.dataSync(), want, 1e-5, 'matMul');
      out.dispose();
    });
  }

  test('matMul gradients (transposed products in the backward pass)', () => {
    const av = randn(6 * 4);
    const bv = randn(4 * 5);
    const [ga, gb] = tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.matMul(a, b)))([tf.tensor(av, [6, 4]), tf.tensor(bv, [4, 5])]));
    // d/da sum(a b) = 1 b^T: row sums of b; d/db = a^T 1: column sums of a
    const wantA = Array.from({ length: 24 }, (_, i) => [0, 1, 2, 3, 4].reduce((s, j) => s + bv[(i % 4) * 5 + j], 0));
    const wantB = Array.from({ length: 20 }, (_, i) => [0, 1, 2, 3, 4, 5].reduce((s, r) => s + av[r * 4 + Math.floor(i / 5)], 0));
    expectClose(ga.dataSync(), wantA, 1e-5, 'dA');
    expectClose(gb.dataSync(), wantB, 1e-5, 'dB');
    tf.dispose([ga, gb]);
  });

  const perms: [number[], number[]][] = [
    [[3, 4], [1, 0]],
    [[1, 5], [1, 0]],
    [[2, 3, 4], [0, 2, 1]],
    [[2, 3, 4], [2, 0, 1]],
    [[4, 3, 2, 3, 5], [2, 0, 3, 1, 4]],
    [[2, 1, 3, 1, 4], [4, 3, 2, 1, 0]],
    [[3, 2, 5, 7], [0, 2, 1, 3]],
    [[2, 3, 2, 2, 3, 2], [0, 1, 3, 2, 4, 5]],
    [[6], [0]],
  ];
  for (const [shape, perm] of perms) {
    test(`transpose ${JSON.stringify(shape)} by ${JSON.stringify(perm)} (float32 and int32)`, () => {
      const v = randn(prod(shape));
      const iv = Int32Array.from(v, (x) => Math.round(x * 1000));
      const [o, oi] = tf.tidy(() => [tf.transpose(tf.tensor(v, shape), perm), tf.transpose(tf.tensor(iv, shape, 'int32'), perm)]);
      expect(o.shape).toEqual(perm.map((p) => shape[p]));
      expect(Array.from(o.dataSync())).toEqual(refTranspose(v, shape, perm));
      expect(oi.dtype).toBe('int32');
      expect(Array.from(oi.dataSync())).toEqual(refTranspose(iv, shape, perm));
      tf.dispose([o, oi]);
    });
  }

  for (const shape of [[3, 4, 65], [7, 1], [2, 3, 17]]) {
    test(`softmax ${JSON.stringify(shape)}`, () => {
      const v = randn(prod(shape), 8);
      const o = tf.tidy(() => tf.softmax(tf.tensor(v, shape)));
      const c = shape[shape.length - 1];
      const want: number[] = [];
      for (let r = 0; r < v.length / c; r++) {
        const row = Array.from(v.slice(r * c, (r + 1) * c));
        const m = Math.max(...row);
        const e = row.map((x) => Math.exp(x - m));
        const s = e.reduce((a, b) => a + b, 0);
        want.push(...e.map((x) => x / s));
      }
      expectClose(o.dataSync(), want, 1e-6, 'softmax');
      o.dispose();
    });
  }

  test('erf and exp, including large, infinite and NaN inputs', () => {
    const v = Float32Array.from([...randn(1001, 6), 0, -0, 20, -20, 90, -90, -200, Infinity, -Infinity, NaN]);
    const [e, x] = tf.tidy(() => [tf.erf(tf.tensor(v)), tf.exp(tf.tensor(v))]);
    expectClose(e.dataSync(), Array.from(v, (t) => (Number.isNaN(t) ? NaN : Number.isFinite(t) ? erf64(t) : Math.sign(t))), 3e-7, 'erf');
    const ev = x.dataSync();
    const want = Array.from(v, (t) => Math.fround(Math.exp(t)));
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(want[i]) || Number.isNaN(want[i])) expect(ev[i], `exp(${v[i]})`).toBe(want[i]);
      else expect(Math.abs(ev[i] - want[i]) / Math.max(want[i], 1e-30), `exp(${v[i]})`).toBeLessThan(want[i] < 1.2e-38 ? 1 : 1e-6);
    }
    tf.dispose([e, x]);
  });

  const bcast: [number[], number[]][] = [
    [[2, 3, 4], [2, 3, 4]],
    [[2, 3, 4], [4]],
    [[2, 3, 4], [2, 3, 1]],
    [[2, 1, 4], [3, 1]],
    [[5], []],
    [[], [3, 2]],
    [[1], [5]],
    [[3, 1, 2, 1, 5], [1, 4, 1, 6, 5]],
    [[64, 17, 1], [64, 17, 192]],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, (x: number, y: number) => number][] = [
    ['add', tf.add, (x, y) => x + y],
    ['sub', tf.sub, (x, y) => x - y],
    ['mul', tf.mul, (x, y) => x * y],
    ['div', tf.div, (x, y) => x / y],
  ];
  for (const [as, bs] of bcast) {
    test(`add/sub/mul/div ${JSON.stringify(as)} with ${JSON.stringify(bs)}`, () => {
      const av = randn(prod(as));
      const bv = randn(prod(bs));
      for (const [name, op, f] of ops) {
        const o = tf.tidy(() => op(tf.tensor(av, as), tf.tensor(bv, bs)));
        const want = refBinary(av, as, bv, bs, (x, y) => Math.fround(f(x, y)));
        expect(o.shape, name).toEqual(want.shape);
        expectClose(o.dataSync(), want.v, 0, name);
        o.dispose();
      }
    });
  }

  test('broadcastPlan merges axes and zeroes broadcast strides', () => {
    expect(broadcastPlan([2, 3, 4], [4])).toMatchObject({ out: [2, 3, 4], shape: [6, 4], as: [4, 1], bs: [0, 1] });
    expect(broadcastPlan([2, 3, 4], [2, 3, 4])).toMatchObject({ shape: [24], as: [1], bs: [1] });
    expect(broadcastPlan([], [])).toMatchObject({ out: [], shape: [1] });
  });

  const sums: [number[], number | number[], boolean][] = [
    [[4, 5, 6], -1, false],
    [[4, 5, 6], 0, false],
    [[4, 5, 6], 1, true],
    [[4, 5, 6], [0, 1], false],
    [[4, 5, 6], [0, 2], true],
    [[33, 130], 0, false],
    [[7], 0, true],
  ];
  const sumCases: [(typeof sums)[number], 'sum' | 'mean'][] = [...sums.map((c) => [c, 'sum'] as [(typeof sums)[number], 'sum']), ...sums.map((c) => [c, 'mean'] as [(typeof sums)[number], 'mean']), [[[2, 9, 9, 5], [0, 1, 2], true], 'mean']];
  for (const [[shape, axis, keep], op] of sumCases) {
    test(`${op} ${JSON.stringify(shape)} axis ${JSON.stringify(axis)} keepDims ${keep}`, () => {
      const v = randn(prod(shape));
      const o = tf.tidy(() => (op === 'sum' ? tf.sum : tf.mean)(tf.tensor(v, shape), axis, keep));
      const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + shape.length : a));
      const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const want = new Float64Array(prod(outShape));
      const st = stridesOf(shape);
      const ost = stridesOf(outShape);
      for (let i = 0; i < v.length; i++) {
        let o2 = 0;
        shape.forEach((_, d) => {
          if (!axes.includes(d)) o2 += (Math.floor(i / st[d]) % shape[d]) * ost[d];
        });
        want[o2] += v[i];
      }
      if (op === 'mean') for (let i = 0; i < want.length; i++) want[i] /= prod(shape) / want.length;
      expect(o.shape).toEqual(keep ? outShape : shape.filter((_, i) => !axes.includes(i)));
      expectClose(o.dataSync(), want, 1e-6, op);
      o.dispose();
    });
  }

  for (const [shape, split, axis, dtype] of [
    [[2, 3, 4, 10], [4, 3, 3], -1, 'float32'],
    [[6, 5], 3, 0, 'int32'],
    [[3, 7, 2], [2, -1, 1], 1, 'float32'],
  ] as [number[], number | number[], number, 'float32' | 'int32'][]) {
    test(`split ${JSON.stringify(shape)} ${JSON.stringify(split)} axis ${axis} ${dtype}`, () => {
      const v = Array.from(randn(prod(shape), 100), (t) => (dtype === 'int32' ? Math.round(t) : t));
      const parts = tf.tidy(() => tf.split(tf.tensor(v, shape, dtype), split, axis));
      const ax = axis < 0 ? axis + shape.length : axis;
      const outer = prod(shape.slice(0, ax));
      const inner = prod(shape.slice(ax + 1));
      let start = 0;
      for (const p of parts) {
        const s = p.shape[ax];
        const want: number[] = [];
        for (let r = 0; r < outer; r++) want.push(...v.slice(r * shape[ax] * inner + start * inner, r * shape[ax] * inner + (start + s) * inner));
        expect(p.dtype).toBe(dtype);
        expect(Array.from(p.dataSync())).toEqual(dtype === 'int32' ? want : Array.from(Float32Array.from(want)));
        start += s;
      }
      expect(start).toBe(shape[ax]);
      tf.dispose(parts);
    });
  }

  for (const [shape, begin, sz, dtype] of [
    [[1024, 1024], [0, 0], [1, 1], 'float32'],
    [[3, 5, 7, 4], [1, 0, 2, 1], [2, 5, 3, 2], 'float32'],
    [[3, 5, 7, 4], [0, 2, 0, 0], [3, 2, 7, 4], 'int32'],
    [[2, 3, 4, 5, 6], [1, 1, 0, 2, 3], [1, -1, 4, 2, 3], 'float32'],
    [[9], [4], [0], 'float32'],
    [[4, 257, 8], [0, 1, 0], [4, 256, 8], 'float32'],
  ] as [number[], number[], number[], 'float32' | 'int32'][]) {
    test(`slice ${JSON.stringify(shape)} begin ${JSON.stringify(begin)} size ${JSON.stringify(sz)} ${dtype}`, () => {
      const v = Array.from(randn(prod(shape), 100), (t) => (dtype === 'int32' ? Math.round(t) | 0 : t));
      const x = tf.tensor(v, shape, dtype);
      const o = tf.slice(x, begin, sz);
      const full = sz.map((s, i) => (s === -1 ? shape[i] - begin[i] : s));
      expect(o.shape).toEqual(full);
      expect(o.dtype).toBe(dtype);
      const st = stridesOf(shape);
      const want: number[] = [];
      const n = prod(full);
      for (let f = 0; f < n; f++) {
        let rem = f;
        let src = 0;
        for (let d = full.length - 1; d >= 0; d--) {
          src += ((rem % full[d]) + begin[d]) * st[d];
          rem = Math.floor(rem / full[d]);
        }
        want.push(v[src]);
      }
      expect(Array.from(o.dataSync())).toEqual(dtype === 'int32' ? want : Array.from(Float32Array.from(want)));
      tf.dispose([x, o]);
    });
  }

  for (const [shapes, axis, dtype] of [
    [[[2, 3, 4], [2, 5, 4], [2, 1, 4]], 1, 'float32'],
    [[[1, 8, 8, 3], [1, 8, 8, 5]], -1, 'float32'],
    [[[3, 2], [4, 2]], 0, 'int32'],
    [[[2, 0, 3], [2, 4, 3], [2, 0, 3]], 1, 'float32'],
    [[[2, 0, 3], [2, 0, 3]], 1, 'float32'],
    [[[5]], 0, 'float32'],
    [[[4096, 40], [4096, 24], [4096, 8]], 1, 'int32'], // rows split over the pool in the native path
  ] as [number[][], number, 'float32' | 'int32'][]) {
    test(`concat ${JSON.stringify(shapes)} axis ${axis} ${dtype}`, () => {
      const vals = shapes.map((s) => Array.from(randn(prod(s), 100), (t) => (dtype === 'int32' ? Math.round(t) | 0 : t)));
      const xs = shapes.map((s, i) => tf.tensor(vals[i], s, dtype));
      const o = tf.concat(xs, axis);
      const ax = axis < 0 ? axis + shapes[0].length : axis;
      const outer = prod(shapes[0].slice(0, ax));
      const want: number[] = [];
      for (let r = 0; r < outer; r++) {
        shapes.forEach((s, i) => {
          const w = prod(s.slice(ax));
          want.push(...vals[i].slice(r * w, (r + 1) * w));
        });
      }
      expect(o.shape[ax]).toBe(shapes.reduce((a, s) => a + s[ax], 0));
      expect(Array.from(o.dataSync())).toEqual(dtype === 'int32' ? want : Array.from(Float32Array.from(want)));
      tf.dispose([...xs, o]);
    });
  }

  test('gather: axis 0 / 1, batchDims, int32 data; out-of-range index still throws', () => {
    const v = randn(4 * 5 * 3);
    const idx = [3, 0, 0, 2, 1];
    const [g0, g1, gi, gb] = tf.tidy(() => {
      const x = tf.tensor(v, [4, 5, 3]);
      return [
        tf.gather(x, tf.tensor1d(idx.slice(0, 4), 'int32'), 0),
        tf.gather(x, tf.tensor2d([[4, 1], [0, 0]], [2, 2], 'int32'), 1),
        tf.gather(tf.tensor(Int32Array.from(v, (t) => Math.round(t * 99)), [4, 5, 3], 'int32'), tf.tensor1d([1, 1], 'int32'), 2),
        tf.gather(x, tf.tensor2d([[1], [4], [0], [2]], [4, 1], 'int32'), 1, 1),
      ];
    });
    const at = (a: number, b: number, c: number) => v[(a * 5 + b) * 3 + c];
    expect(g0.shape).toEqual([4, 5, 3]);
    expect(Array.from(g0.dataSync())).toEqual([3, 0, 0, 2].flatMap((a) => [0, 1, 2, 3, 4].flatMap((b) => [0, 1, 2].map((c) => at(a, b, c)))));
    expect(g1.shape).toEqual([4, 2, 2, 3]);
    expect(Array.from(g1.dataSync())).toEqual([0, 1, 2, 3].flatMap((a) => [4, 1, 0, 0].flatMap((b) => [0, 1, 2].map((c) => at(a, b, c)))));
    expect(gi.dtype).toBe('int32');
    expect(Array.from(gi.dataSync())).toEqual([0, 1, 2, 3].flatMap((a) => [0, 1, 2, 3, 4].flatMap((b) => [1, 1].map(() => Math.round(at(a, b, 1) * 99)))));
    expect(gb.shape).toEqual([4, 1, 3]);
    expect(Array.from(gb.dataSync())).toEqual([1, 4, 0, 2].flatMap((b, a) => [0, 1, 2].map((c) => at(a, b, c))));
    tf.dispose([g0, g1, gi, gb]);
    expect(() => tf.tidy(() => tf.gather(tf.tensor(v, [4, 5, 3]), tf.tensor1d([4], 'int32'), 0))).toThrow(/index/);
  });

  test('unstack (Unpack) on axis 0 and 1, identity/clone and same-dtype cast share no state', () => {
    const v = randn(3 * 4 * 2);
    const parts0 = tf.tidy(() => tf.unstack(tf.tensor(v, [3, 4, 2]), 0));
    parts0.forEach((p, i) => expect(Array.from(p.dataSync())).toEqual(Array.from(v.slice(i * 8, (i + 1) * 8))));
    const parts1 = tf.tidy(() => tf.unstack(tf.tensor(v, [3, 4, 2]), 1));
    parts1.forEach((p, j) => expect(Array.from(p.dataSync())).toEqual([0, 1, 2].flatMap((i) => [v[i * 8 + j * 2], v[i * 8 + j * 2 + 1]])));
    const x = tf.tensor(v, [3, 4, 2]);
    const c = tf.clone(x);
    const k = tf.cast(x, 'float32');
    x.dispose();
    expect(Array.from(c.dataSync())).toEqual(Array.from(v));
    expect(Array.from(k.dataSync())).toEqual(Array.from(v));
    tf.dispose([...parts0, ...parts1, c, k]);
  });

  test('tile gradient sums the repetitions', () => {
    const v = randn(2 * 3);
    const w = randn(4 * 6);
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.tile(x, [2, 2]), tf.tensor(w, [4, 6]))))(tf.tensor(v, [2, 3])));
    const want = new Float64Array(6);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 6; j++) want[(i % 2) * 3 + (j % 3)] += w[i * 6 + j];
    expectClose(g.dataSync(), want, 1e-6, 'tile grad');
    g.dispose();
  });

  test('fused gelu: value and gradient vs float64', () => {
    const v = Float32Array.from([...randn(999, 4), 0, 12, -12]);
    const w = randn(v.length);
    const [y, g] = tf.tidy(() => {
      const x = tf.tensor(v);
      const f = (t: tf.Tensor) => tf.sum(tf.mul(gelu(t), tf.tensor(w)));
      return [gelu(x), tf.grad(f)(x)];
    });
    const Phi = (t: number) => 0.5 * (1 + erf64(t / Math.SQRT2));
    expectClose(y.dataSync(), Array.from(v, (t) => t * Phi(t)), 1e-6, 'gelu');
    expectClose(g.dataSync(), Array.from(v, (t, i) => w[i] * (Phi(t) + (t * Math.exp(-t * t / 2)) / Math.sqrt(2 * Math.PI))), 2e-6, 'gelu grad');
    tf.dispose([y, g]);
  });

  // D = 129: a row's last vector of one lane on the AVX-512 path; 7 and 3 x 5 rows: halves of unequal size
  for (const shape of [[3, 5, 16], [7, 1], [4, 129], [7, 192]]) {
    test(`fused layerNorm ${JSON.stringify(shape)}: value and gradients vs float64, gradients vs the composed ops`, () => {
      const D = shape[shape.length - 1];
      const v = randn(prod(shape), 3);
      const wv = randn(D);
      const bv = randn(D);
      const up = randn(prod(shape));
      const eps = 1e-6;
      const composed = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), w), b);
      };
      const [y, ...gs] = tf.tidy(() => {
        const args = [tf.tensor(v, shape), tf.tensor(wv), tf.tensor(bv)];
        const loss = (f: typeof composed) => (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(x, w, b), tf.tensor(up, shape)));
        return [layerNorm(args[0], args[1], args[2], eps), ...tf.grads(loss((x, w, b) => layerNorm(x, w, b, eps)))(args), ...tf.grads(loss(composed))(args)];
      });
      const want: number[] = [];
      for (let r = 0; r < v.length / D; r++) {
        const row = Array.from(v.slice(r * D, (r + 1) * D));
        const m = row.reduce((a, b) => a + b, 0) / D;
        const vr = row.reduce((a, b) => a + (b - m) ** 2, 0) / D;
        want.push(...row.map((t, j) => ((t - m) / Math.sqrt(vr + eps)) * wv[j] + bv[j]));
      }
      expectClose(y.dataSync(), want, 2e-6, 'layerNorm');
      for (let i = 0; i < 3; i++) expectClose(gs[i].dataSync(), gs[i + 3].dataSync(), 1e-4, ['dx', 'dw', 'db'][i]);
      // float64 gradients: dx = rstd (g - mean(g) - xh mean(g xh)) with g = up w; dw = sum(up xh); db = sum(up)
      const dx: number[] = [];
      const dw = new Float64Array(D);
      const db = new Float64Array(D);
      for (let r = 0; r < v.length / D; r++) {
        const row = Array.from(v.slice(r * D, (r + 1) * D));
        const m = row.reduce((a, b) => a + b, 0) / D;
        const rstd = 1 / Math.sqrt(row.reduce((a, b) => a + (b - m) ** 2, 0) / D + eps);
        const xh = row.map((t) => (t - m) * rstd);
        const g = xh.map((_, j) => up[r * D + j] * wv[j]);
        const mg = g.reduce((a, b) => a + b, 0) / D;
        const mgx = g.reduce((a, b, j) => a + b * xh[j], 0) / D;
        dx.push(...g.map((t, j) => rstd * (t - mg - xh[j] * mgx)));
        xh.forEach((t, j) => { dw[j] += up[r * D + j] * t; db[j] += up[r * D + j]; });
      }
      expectClose(gs[0].dataSync(), dx, 2e-5, 'dx vs float64');
      expectClose(gs[1].dataSync(), dw, 2e-5, 'dw vs float64');
      expectClose(gs[2].dataSync(), db, 2e-5, 'db vs float64');
      tf.dispose([y, ...gs]);
    });
  }

  // the block's residual sum + ln2 (src/nn/layers.ts block): [s, y] and the gradients of x, a, w, b bitwise equal to
  // tf.add then layerNorm (the engine's LayerNorm kernel), the values vs float64
  for (const shape of [[3, 5, 16], [2, 300, 130]]) {
    test(`addLayerNorm ${JSON.stringify(shape)}: bitwise tf.add + layerNorm (values and gradients), values vs float64`, () => {
      const D = shape[shape.length - 1];
      const [xv, av, wv, bv, u1, u2] = [randn(prod(shape), 3), randn(prod(shape)), randn(D), randn(D), randn(prod(shape)), randn(prod(shape))];
      const eps = 1e-6;
      const before = tf.memory().numTensors;
      const res = tf.tidy(() => {
        const args = [tf.tensor(xv, shape), tf.tensor(av, shape), tf.tensor(wv), tf.tensor(bv)];
        const composed = (x: tf.Tensor, a: tf.Tensor, w: tf.Tensor, b: tf.Tensor): [tf.Tensor, tf.Tensor] => {
          const s = tf.add(x, a);
          return [s, layerNorm(s, w, b, eps)];
        };
        const fused = (x: tf.Tensor, a: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => addLayerNorm(x, a, w, b, eps) ?? composed(x, a, w, b);
        const loss = (f: typeof composed) => (x: tf.Tensor, a: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
          const [s, y] = f(x, a, w, b);
          return tf.add(tf.sum(tf.mul(s, tf.tensor(u1, shape))), tf.sum(tf.mul(y, tf.tensor(u2, shape))));
        };
        const [fs, fy] = fused(args[0], args[1], args[2], args[3]);
        const [cs, cy] = composed(args[0], args[1], args[2], args[3]);
        return [fs, fy, cs, cy, ...tf.grads(loss(fused))(args), ...tf.grads(loss(composed))(args)].map((t) => t.dataSync() as Float32Array);
      });
      expect(tf.memory().numTensors).toBe(before);
      const probe = [tf.zeros([2, 3]), tf.zeros([2, 3]), tf.ones([3]), tf.zeros([3])];
      const ran = addLayerNorm(probe[0], probe[1], probe[2], probe[3], eps);
      if (nativeAvailable()) expect(ran).not.toBeNull(); // the fused kernel is what was compared
      tf.dispose([...probe, ...(ran ?? [])]);
      const [fs, fy, cs, cy, ...g] = res;
      const same = (a: Float32Array, b: Float32Array, what: string) => expect(a.every((v, i) => Object.is(v, b[i])), what).toBe(true);
      same(fs, cs, 's');
      same(fy, cy, 'y');
      ['dx', 'da', 'dw', 'db'].forEach((n, i) => same(g[i], g[i + 4], n));
      const want: number[] = [];
      for (let r = 0; r < xv.length / D; r++) {
        const row = Array.from({ length: D }, (_, j) => xv[r * D + j] + av[r * D + j]);
        const m = row.reduce((p, q) => p + q, 0) / D;
        const vr = row.reduce((p, q) => p + (q - m) ** 2, 0) / D;
        want.push(...row.map((t, j) => ((t - m) / Math.sqrt(vr + eps)) * wv[j] + bv[j]));
      }
      expectClose(fy, want, 2e-6, 'addLayerNorm y');
    });
  }

  // offset: values far from 0 (the one-pass variance must not cancel)
  for (const [shape, relu, offset] of [[[2, 3, 4, 5], true, 0], [[1, 1, 2, 3], false, 0], [[3, 7, 9, 130], true, 0], [[2, 5, 5, 17], false, 300]] as [number[], boolean, number][]) {
    test(`fused train-mode batchNorm ${JSON.stringify(shape)}${relu ? ' + ReLU' : ''}${offset ? ` around ${offset}` : ''}: value, batch statistics and gradients vs float64`, () => {
      const C = shape[3];
      const n = prod(shape) / C;
      const v = randn(prod(shape), 3).map((t) => t + offset);
      const wv = randn(C);
      const bv = randn(C);
      const up = randn(prod(shape));
      const eps = 1e-5;
      const out = tf.tidy(() => {
        const args = [tf.tensor(v, shape), tf.tensor(wv), tf.tensor(bv)];
        const r = batchNormTrainFused(args[0], args[1], args[2], eps, relu);
        if (!r) return [] as tf.Tensor[];
        const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
          const q = batchNormTrainFused(x, w, b, eps, relu)!;
          tf.dispose([q.mean, q.variance]);
          return tf.sum(tf.mul(q.y, tf.tensor(up, shape)));
        };
        return [r.y, r.mean, r.variance, ...tf.grads(f)(args)];
      });
      if (!nativeAvailable() || process.env.MFF_NATIVE === '0') {
        expect(out).toEqual([]); // unavailable: the caller composes the ops (src/nn/conv.ts)
        return;
      }
      expect(out.length).toBe(6);
      const [y, mean, variance, dx, dw, db] = out;
      // float64: statistics over (N, H, W) per channel, y, then g = up · [y > 0], db, dw and dx
      const mu = new Float64Array(C);
      const va = new Float64Array(C);
      for (let i = 0; i < v.length; i++) mu[i % C] += v[i] / n;
      for (let i = 0; i < v.length; i++) va[i % C] += (v[i] - mu[i % C]) ** 2 / n;
      const r = Array.from(va, (t) => 1 / Math.sqrt(t + eps));
      const xh = Array.from(v, (t, i) => (t - mu[i % C]) * r[i % C]);
      const want = xh.map((t, i) => t * wv[i % C] + bv[i % C]).map((t) => (relu ? Math.max(0, t) : t));
      const g = Array.from(up, (t, i) => (relu && !(want[i] > 0) ? 0 : t));
      const dbw = new Float64Array(C);
      const dww = new Float64Array(C);
      g.forEach((t, i) => {
        dbw[i % C] += t;
        dww[i % C] += t * xh[i];
      });
      const dxw = g.map((t, i) => ((wv[i % C] * r[i % C]) / n) * (n * t - dbw[i % C] - xh[i] * dww[i % C]));
      expectClose(y.dataSync(), want, 2e-5, 'y');
      expectClose(mean.dataSync(), Array.from(mu), 1e-6, 'mean');
      expectClose(variance.dataSync(), Array.from(va), 1e-5, 'variance');
      expectClose(db.dataSync(), Array.from(dbw), 1e-4, 'db');
      expectClose(dw.dataSync(), Array.from(dww), 1e-4, 'dw');
      expectClose(dx.dataSync(), dxw, 1e-4, 'dx');
      tf.dispose(out);
    });
  }

  // Reference NHWC convolution in float64: y[n,oh,ow,co] = sum x[n, oh*s - pt + i*d, ow*s - pl + j*d, ci] w[i,j,ci,co]
  function refConv(x: Float32Array, xs: number[], w: Float32Array, ws: number[], s: number, d: number, pad: 'same' | 'valid' | [number, number]) {
    const [N, H, W, Ci] = xs;
    const [kh, kw, , Co] = ws;
    const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], ws as [number, number, number, number], s, d,
      Array.isArray(pad) ? [[0, 0], [pad[0], pad[0]], [pad[1], pad[1]], [0, 0]] : pad);
    const { top, left } = info.padInfo;
    const [OH, OW] = [info.outHeight, info.outWidth];
    const y = new Float64Array(N * OH * OW * Co);
    const taps: [number, number, number][] = []; // (y index base, x index base, w index base) triples per tap
    for (let n = 0; n < N; n++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              const ih = oh * s - top + i * d;
              const iw = ow * s - left + j * d;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              taps.push([((n * OH + oh) * OW + ow) * Co, ((n * H + ih) * W + iw) * Ci, (i * kw + j) * Ci * Co]);
            }
    for (const [yb, xb, wb] of taps) for (let ci = 0; ci < Ci; ci++) for (let co = 0; co < Co; co++) y[yb + co] += x[xb + ci] * w[wb + ci * Co + co];
    return { y, taps, outShape: [N, OH, OW, Co], pad: Array.isArray(pad) ? ([[0, 0], [pad[0], pad[0]], [pad[1], pad[1]], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]]) : pad };
  }

  // float64 gradients of sum(conv(x, w) * up) from refConv's taps:
  // dL/dx[xb + ci] += up[yb + co] w[wb + ci*Co + co]; dL/dw[wb + ci*Co + co] += x[xb + ci] up[yb + co]
  function refConvGrads(taps: [number, number, number][], xv: Float32Array, wv: Float32Array, ws: number[], up: Float32Array) {
    const [Ci, Co] = [ws[2], ws[3]];
    const gx = new Float64Array(xv.length);
    const gw = new Float64Array(wv.length);
    for (const [yb, xb, wb] of taps)
      for (let ci = 0; ci < Ci; ci++)
        for (let co = 0; co < Co; co++) {
          gx[xb + ci] += up[yb + co] * wv[wb + ci * Co + co];
          gw[wb + ci * Co + co] += xv[xb + ci] * up[yb + co];
        }
    return { gx, gw };
  }

  const convs: [number[], number[], number, number, 'same' | 'valid' | [number, number]][] = [
    [[2, 7, 6, 3], [3, 3, 3, 4], 1, 1, 'same'],
    [[2, 7, 6, 3], [3, 3, 3, 4], 2, 1, 'same'],
    [[1, 9, 8, 2], [3, 2, 2, 5], 2, 1, 'valid'],
    [[2, 5, 5, 4], [1, 1, 4, 3], 1, 1, 'valid'],
    [[1, 6, 7, 3], [3, 3, 3, 2], 1, 1, [2, 1]],
    [[1, 9, 9, 2], [3, 3, 2, 3], 1, 2, 'same'],
    [[1, 8, 8, 3], [4, 4, 3, 2], 4, 1, 'valid'],
    // stride 1, not 1x1: the shifted-GEMM path (asymmetric 'same' padding, 'valid', dilation with explicit padding)
    [[2, 5, 6, 3], [2, 2, 3, 4], 1, 1, 'same'],
    [[2, 6, 5, 3], [3, 2, 3, 2], 1, 1, 'valid'],
    [[1, 7, 5, 2], [3, 3, 2, 3], 1, 2, [1, 0]],
    [[3, 4, 4, 5], [3, 3, 5, 6], 1, 1, 'same'],
    [[1, 16, 17, 4], [3, 3, 4, 5], 1, 1, 'same'], // one image, > 128 padded rows: the forward's output rows split
  ];
  for (const [xs, ws, st, dil, pad] of convs) {
    test(`conv2d x${JSON.stringify(xs)} w${JSON.stringify(ws)} stride ${st} dilation ${dil} pad ${JSON.stringify(pad)}: value and both gradients`, () => {
      const xv = randn(prod(xs));
      const wv = randn(prod(ws));
      const ref = refConv(xv, xs, wv, ws, st, dil, pad);
      const up = randn(prod(ref.outShape));
      const [y, dx, dw] = tf.tidy(() => {
        const f = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, st, ref.pad, 'NHWC', dil);
        const x = tf.tensor(xv, xs);
        const w = tf.tensor(wv, ws);
        const out: tf.Tensor[] = [f(x, w)];
        if (dil === 1) out.push(...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), tf.tensor(up, ref.outShape))))([x, w]));
        return out;
      });
      expect(y.shape).toEqual(ref.outShape);
      expectClose(y.dataSync(), ref.y, 1e-5, 'conv2d');
      if (dil === 1) {
        const { gx, gw } = refConvGrads(ref.taps, xv, wv, ws, up);
        expectClose(dx.dataSync(), gx, 1e-5, 'dx');
        expectClose(dw.dataSync(), gw, 1e-5, 'dw');
      }
      tf.dispose([y, dx, dw].filter(Boolean));
    });
  }

  // 3x3 stride-1 convolutions large enough for the native engine's Winograd F(4x4, 3x3) path (native/src/kernels.c
  // wg_wanted: >= 64 channels in and out, >= 2048 output pixels, images >= 8 px): forward and input gradient. Partial
  // tiles on both axes, 'valid', padding 2, several images and chunks. Winograd rounds more than the direct sum (its
  // transforms scale by up to 8 and 1/24): measured worst 1.2-1.7e-4 here (outputs of std ≈ 8) against 4-6e-6 with
  // MFF_WINOGRAD=0; a wrong tile, transform or padding is off by O(1).
  const winogradConvs: [number[], number[], 'same' | 'valid' | [number, number]][] = [
    [[2, 33, 35, 64], [3, 3, 64, 64], 'same'],
    [[1, 50, 50, 64], [3, 3, 64, 72], 'valid'],
    [[1, 46, 47, 72], [3, 3, 72, 64], [2, 2]],
    [[2, 48, 48, 64], [3, 3, 64, 64], 'same'],
  ];
  for (const [xs, ws, pad] of winogradConvs) {
    test(`conv2d x${JSON.stringify(xs)} w${JSON.stringify(ws)} pad ${JSON.stringify(pad)} (Winograd-sized): value and both gradients vs float64`, () => {
      const xv = randn(prod(xs));
      const wv = randn(prod(ws));
      const ref = refConv(xv, xs, wv, ws, 1, 1, pad);
      const up = randn(prod(ref.outShape));
      const before = tf.memory().numTensors;
      const [y, dx, dw] = tf.tidy(() => {
        const f = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, ref.pad);
        const x = tf.tensor(xv, xs);
        const w = tf.tensor(wv, ws);
        return [f(x, w), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), tf.tensor(up, ref.outShape))))([x, w])];
      });
      expect(y.shape).toEqual(ref.outShape);
      const { gx, gw } = refConvGrads(ref.taps, xv, wv, ws, up);
      expectClose(y.dataSync(), ref.y, 5e-4, 'conv2d');
      expectClose(dx.dataSync(), gx, 5e-4, 'dx');
      // dw sums > 2000 pixels (values up to ≈ ±80 here) and its rounding sits on its cancelled, small elements, so it is
      // measured against the gradient's scale (its largest magnitude): Winograd ≈ 4e-6 of it (elementwise 2.3e-4 to
      // 7.9e-4, depending on the random draw), direct 5e-7 (native) and 2e-6 (pure wasm); a wrong transform is off by O(1)
      const scale = gw.reduce((a, t) => Math.max(a, Math.abs(t)), 1);
      expectClose(Float32Array.from(dw.dataSync(), (t) => t / scale), gw.map((t) => t / scale), 5e-5, 'dw / its scale');
      tf.dispose([y, dx, dw]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  // tf.fused.conv2d (FusedConv2D: conv + bias + activation in one kernel; natively overridden for linear / relu)
  const fusedCases: [number[], number[], number, 'same' | 'valid' | [number, number], 'linear' | 'relu', boolean][] = [
    [[2, 7, 6, 3], [3, 3, 3, 4], 1, 'same', 'relu', true], // shifted-GEMM path
    [[1, 9, 8, 2], [3, 2, 2, 5], 2, 'valid', 'relu', true], // im2col path
    [[2, 5, 5, 4], [1, 1, 4, 3], 1, 'valid', 'linear', true], // direct 1x1 path
    [[1, 6, 7, 3], [3, 3, 3, 2], 1, [1, 1], 'relu', false], // relu without bias
    [[1, 6, 6, 3], [3, 3, 3, 2], 1, 'same', 'elu' as 'relu', true], // another activation: the original kernel
  ];
  for (const [xs, ws, st, pad, act, withBias] of fusedCases) {
    test(`fused conv2d x${JSON.stringify(xs)} w${JSON.stringify(ws)} stride ${st} ${act}${withBias ? ' + bias' : ''} vs float64`, () => {
      const xv = randn(prod(xs));
      const wv = randn(prod(ws));
      const bv = randn(ws[3]);
      const ref = refConv(xv, xs, wv, ws, st, 1, pad);
      const Co = ws[3];
      const want = ref.y.map((v, i) => {
        const z = v + (withBias ? bv[i % Co] : 0);
        return act === 'relu' ? Math.max(z, 0) : (act as string) === 'elu' ? (z > 0 ? z : Math.expm1(z)) : z;
      });
      const before = tf.memory().numTensors;
      const y = tf.tidy(() =>
        tf.fused.conv2d({
          x: tf.tensor4d(xv, xs as [number, number, number, number]), filter: tf.tensor4d(wv, ws as [number, number, number, number]),
          strides: st, pad: ref.pad as 'same', dataFormat: 'NHWC', ...(withBias ? { bias: tf.tensor1d(bv) } : {}), activation: act,
        }),
      );
      expect(y.shape).toEqual(ref.outShape);
      expectClose(y.dataSync(), want, 1e-5, 'fused conv2d');
      y.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  for (const wd of [0, 0.05]) {
    test(`fused AdamW (weight decay ${wd}) is bitwise equal to the composed update of src/engine/optim.ts`, () => {
      const n = 1003;
      let p = tf.tensor(randn(n));
      let m = tf.zeros([n]);
      let v = tf.zeros([n]);
      let pc = p.clone();
      let mc = m.clone();
      let vc = v.clone();
      const [b1, b2, eps, lr] = [0.9, 0.95, 1e-8, 1.5e-4];
      for (let t = 1; t <= 3; t++) {
        const g = tf.tensor(randn(n, 0.1));
        const fused = adamwUpdate(p, m, v, g, { lr, weightDecay: wd, beta1: b1, beta2: b2, eps, step: t });
        if (!nativeAvailable()) {
          expect(fused).toBeNull();
          tf.dispose([p, m, v, pc, mc, vc, g]);
          return;
        }
        const [p1, m1, v1] = fused!;
        const [p2, m2, v2] = tf.tidy(() => {
          const pp = wd !== 0 ? tf.mul(pc, 1 - lr * wd) : pc;
          const mm = tf.add(mc, tf.mul(tf.sub(g, mc), 1 - b1));
          const vv = tf.add(tf.mul(vc, b2), tf.mul(tf.mul(g, g), 1 - b2));
          const denom = tf.add(tf.div(tf.sqrt(vv), Math.sqrt(1 - b2 ** t)), eps);
          return [tf.sub(pp, tf.mul(tf.div(mm, denom), lr / (1 - b1 ** t))), mm, vv];
        });
        expect(Array.from(p1.dataSync())).toEqual(Array.from(p2.dataSync()));
        expect(Array.from(m1.dataSync())).toEqual(Array.from(m2.dataSync()));
        expect(Array.from(v1.dataSync())).toEqual(Array.from(v2.dataSync()));
        tf.dispose([p, m, v, pc, mc, vc, g]);
        [p, m, v, pc, mc, vc] = [p1, m1, v1, p2, m2, v2];
      }
      tf.dispose([p, m, v, pc, mc, vc]);
    });
  }

  test('AdamW in place on many parameters (one native call, tensor and host state) is bitwise the per-tensor fused update; shared buffers are left to the caller', () => {
    // sizes: tiny, odd, one above the 2-thread split threshold (native/src/kernels.c PAR_MIN), so the split crosses tensors
    const sizes = [3, 1003, 70001, 17];
    const hs = sizes.map((_, j) => ({ lr: 1e-3 * (j + 1), weightDecay: j % 2 ? 0 : 0.05, beta1: 0.9, beta2: 0.95, eps: 1e-8, step: j + 2 }));
    const p0 = sizes.map((n) => randn(n));
    const m0 = sizes.map((n) => randn(n, 0.1));
    const v0 = sizes.map((n) => randn(n, 0.01).map(Math.abs));
    const g0 = sizes.map((n) => randn(n, 0.1));
    const before = tf.memory().numTensors;
    const params = p0.map((x) => tf.tensor(x));
    const grads = g0.map((x) => tf.tensor(x));
    const ms = m0.map((x, j) => (j % 2 ? Float32Array.from(x) : tf.tensor(x))); // odd items: host-array state
    const vs = v0.map((x, j) => (j % 2 ? Float32Array.from(x) : tf.tensor(x)));
    const view = tf.reshape(params[3], [sizes[3], 1]); // item 3 shares its buffer: must not be written
    const nat = loadNative();
    const threads = nat?.threads();
    nat?.threads(2); // the 2-thread split (its halves meet inside item 2)
    const done = adamwInPlace(sizes.map((_, j) => ({ param: params[j], m: ms[j], v: vs[j], grad: grads[j], h: hs[j] })));
    nat?.threads(threads);
    if (!nativeAvailable()) {
      expect(done).toEqual(sizes.map(() => false));
    } else {
      expect(done).toEqual([true, true, true, false]);
      for (let j = 0; j < 3; j++) {
        const want = tf.tidy(() => adamwUpdate(tf.tensor(p0[j]), tf.tensor(m0[j]), tf.tensor(v0[j]), tf.tensor(g0[j]), hs[j])!);
        const got = [params[j], ms[j], vs[j]].map((t) => (t instanceof Float32Array ? t : t.dataSync()));
        want.forEach((w, q) => expect(Array.from(got[q]), `item ${j} output ${q}`).toEqual(Array.from(w.dataSync())));
        tf.dispose(want);
      }
    }
    expect(Array.from(params[3].dataSync())).toEqual(Array.from(p0[3])); // untouched
    expect(Array.from(vs[3] as Float32Array)).toEqual(Array.from(v0[3]));
    tf.dispose([view, ...params, ...grads, ...[...ms, ...vs].filter((t): t is tf.Tensor => !(t instanceof Float32Array))]);
    expect(tf.memory().numTensors).toBe(before);
  });

  // native/src/kernels.c paths: N, hd <= ATTN_L1_N (128) run on the AVX-512 kernels when the build has them (the
  // decoder's [65, 32]; a 65-column row has a one-lane tail); [1, 131, 1, 16] has N*N*hd above ATTN_ITEM_SMALL (the
  // path that keeps OpenBLAS's threads per product), [1, 130, 1, 8] below it (whole items on sgemm)
  for (const [B, N, H, hd] of [[2, 5, 3, 4], [3, 17, 2, 8], [2, 65, 1, 64], [2, 65, 2, 32], [1, 130, 1, 8], [1, 131, 1, 16]]) {
    test(`fused attention + logits bias B${B} N${N} H${H} hd${hd}: value, qkv and bias gradients vs float64`, () => {
      const D = H * hd;
      const qv = randn(B * N * 3 * D, 2);
      const bv = randn(H * N * N, 2);
      const up = randn(B * N * D);
      const scale = hd ** -0.5;
      const x = tf.tensor(qv, [B, N, 3 * D]);
      const bias = tf.tensor(bv, [H, N, N]);
      const fused = attentionCore(x, H, scale, bias);
      if (!nativeAvailable()) {
        expect(fused).toBeNull();
        tf.dispose([x, bias]);
        return;
      }
      const [gq, gb] = tf.tidy(() => tf.grads((t: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(attentionCore(t, H, scale, bb)!, tf.tensor(up, [B, N, D]))))([x, bias]));
      // float64 reference: forward, then backward by hand
      const y = new Float64Array(B * N * D);
      const dq = new Float64Array(B * N * 3 * D);
      const db = new Float64Array(H * N * N);
      const Q = (b: number, n: number, part: number, h: number, e: number) => qv[(b * N + n) * 3 * D + part * D + h * hd + e];
      for (let b = 0; b < B; b++)
        for (let h = 0; h < H; h++) {
          const P: number[][] = [];
          for (let i = 0; i < N; i++) {
            const l = Array.from({ length: N }, (_, j) => {
              let s = 0;
              for (let e = 0; e < hd; e++) s += Q(b, i, 0, h, e) * Q(b, j, 1, h, e);
              return s * scale + bv[(h * N + i) * N + j];
            });
            const m = Math.max(...l);
            const ex = l.map((t) => Math.exp(t - m));
            const z = ex.reduce((a, c) => a + c, 0);
            P.push(ex.map((t) => t / z));
          }
          for (let i = 0; i < N; i++)
            for (let e = 0; e < hd; e++) {
              let s = 0;
              for (let j = 0; j < N; j++) s += P[i][j] * Q(b, j, 2, h, e);
              y[(b * N + i) * D + h * hd + e] = s;
            }
          const dO = (i: number, e: number) => up[(b * N + i) * D + h * hd + e];
          for (let i = 0; i < N; i++) {
            const dP = Array.from({ length: N }, (_, j) => {
              let s = 0;
              for (let e = 0; e < hd; e++) s += dO(i, e) * Q(b, j, 2, h, e);
              return s;
            });
            const dot = dP.reduce((a, c, j) => a + c * P[i][j], 0);
            for (let j = 0; j < N; j++) {
              const dS = P[i][j] * (dP[j] - dot);
              db[(h * N + i) * N + j] += dS;
              for (let e = 0; e < hd; e++) {
                dq[(b * N + i) * 3 * D + h * hd + e] += scale * dS * Q(b, j, 1, h, e);
                dq[(b * N + j) * 3 * D + D + h * hd + e] += scale * dS * Q(b, i, 0, h, e);
                dq[(b * N + j) * 3 * D + 2 * D + h * hd + e] += P[i][j] * dO(i, e);
              }
            }
          }
        }
      expectClose(fused!.dataSync(), y, 1e-5, 'attention+bias');
      expectClose(gq.dataSync(), dq, 1e-5, 'attention+bias dqkv');
      expectClose(gb.dataSync(), db, 1e-5, 'attention+bias dbias');
      tf.dispose([x, bias, fused!, gq, gb]);
    });
  }
  for (const [B, N, H, hd] of [[2, 5, 3, 4], [3, 17, 2, 8], [1, 1, 1, 3]]) {
    test(`fused attention B${B} N${N} H${H} hd${hd}: value and qkv gradient vs the composed ops`, () => {
      const D = H * hd;
      const qv = randn(B * N * 3 * D, 2);
      const up = randn(B * N * D);
      const scale = hd ** -0.5;
      // the composition of src/nn/layers.ts attention() between its two Linears
      const composed = (qkv: tf.Tensor) => {
        const t = tf.transpose(tf.reshape(qkv, [B, N, 3, H, hd]), [2, 0, 3, 1, 4]);
        const [q, k, v] = tf.unstack(t, 0);
        const attn = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale), -1);
        return tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [B, N, D]);
      };
      const x = tf.tensor(qv, [B, N, 3 * D]);
      const fused = attentionCore(x, H, scale);
      if (!nativeAvailable()) {
        expect(fused).toBeNull();
        x.dispose();
        return;
      }
      const [y1, y2, g1, g2] = tf.tidy(() => {
        const loss = (f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(f(t), tf.tensor(up, [B, N, D])));
        return [fused!, composed(x), tf.grad(loss((t) => attentionCore(t, H, scale)!))(x), tf.grad(loss(composed))(x)];
      });
      expect(y1.shape).toEqual([B, N, D]);
      expectClose(y1.dataSync(), y2.dataSync(), 1e-5, 'attention');
      expectClose(g1.dataSync(), g2.dataSync(), 1e-5, 'attention dqkv');
      tf.dispose([x, y1, y2, g1, g2]);
    });
  }
  // Linear layer (src/nn/layers.ts linear -> fused native GEMM when available): value and dx, dW, db vs float64.
  for (const [lead, K, N, bias] of [[[2, 5], 7, 3, true], [[33], 16, 9, false], [[4, 1, 6], 1, 5, true], [[0], 4, 3, true], [[300], 8, 257, true], [[70], 12, 100, false], [[4, 275], 33, 70, true]] as [number[], number, number, boolean][]) {
    // [300]x[8,257]: big enough (M·N >= 65536) for the native bias column sums to split over the thread pool; the next
    // two (M < 1024, N >= 64): the forward in two column halves (kernels.c LIN_SPLIT_M); [4, 275] (M = 1100): the
    // main-thread GEMMs (oneDNN when libdnnl.so.2 is present, else OpenBLAS)
    test(`linear ${JSON.stringify([...lead, K])} x [${K},${N}]${bias ? ' + bias' : ''}: value and gradients vs float64`, () => {
      const M = prod(lead);
      const xv = randn(M * K, 2);
      const wv = randn(K * N);
      const bv = randn(N);
      const up = randn(M * N);
      const p = new ParamStore();
      p.add('fc.weight', tf.tensor(wv, [K, N]));
      if (bias) p.add('fc.bias', tf.tensor(bv, [N]));
      const x = tf.tensor(xv, [...lead, K]);
      const vars = [p.get('fc.weight'), ...(bias ? [p.get('fc.bias')] : [])] as tf.Variable[];
      const [y, dx, ...gw] = tf.tidy(() => {
        const f = (t: tf.Tensor) => tf.sum(tf.mul(linear(p, 'fc', t), tf.tensor(up, [...lead, N])));
        const dxt = tf.grad(f)(x);
        const { grads } = tf.variableGrads(() => f(x) as tf.Scalar, vars);
        return [linear(p, 'fc', x), dxt, ...vars.map((v) => grads[v.name])];
      });
      expect(y.shape).toEqual([...lead, N]);
      const wy = new Float64Array(M * N);
      const wdx = new Float64Array(M * K);
      const wdw = new Float64Array(K * N);
      const wdb = new Float64Array(N);
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = bias ? bv[j] : 0;
          for (let k = 0; k < K; k++) {
            s += xv[i * K + k] * wv[k * N + j];
            wdx[i * K + k] += up[i * N + j] * wv[k * N + j];
            wdw[k * N + j] += xv[i * K + k] * up[i * N + j];
          }
          wy[i * N + j] = s;
          wdb[j] += up[i * N + j];
        }
      expectClose(y.dataSync(), wy, 1e-5, 'linear y');
      expectClose(dx.dataSync(), wdx, 1e-5, 'linear dx');
      // dW and db sum M products in float32: their error grows with M (≈ 2.4e-5 at M = 1100, both libraries)
      const tolM = 1e-5 * Math.max(1, M / 300);
      expectClose(gw[0].dataSync(), wdw, tolM, 'linear dW');
      if (bias) expectClose(gw[1].dataSync(), wdb, tolM, 'linear db');
      tf.dispose([x, y, dx, ...gw]);
      p.dispose();
    });
  }

  // Transformer FFN (src/nn/layers.ts ffn -> one fused native kernel when available): value and dx, dW1, db1, dW2, db2
  // vs float64. [300]: row blocks split over the pool; [4, 275] (M = 1100): ten uneven row blocks; [0]: no rows.
  for (const [lead, K, H, N] of [[[2, 5], 7, 11, 3], [[300], 8, 64, 20], [[4, 275], 33, 70, 17], [[0], 4, 6, 3]] as [number[], number, number, number][]) {
    test(`ffn ${JSON.stringify([...lead, K])} -> ${H} -> ${N}: value and gradients vs float64; the inference path gives the same bits`, () => {
      const M = prod(lead);
      const xv = randn(M * K, 2);
      const [w1v, b1v, w2v, b2v] = [randn(K * H), randn(H), randn(H * N), randn(N)];
      const up = randn(M * N);
      const p = new ParamStore();
      p.add('f.layers.0.0.weight', tf.tensor(w1v, [K, H]));
      p.add('f.layers.0.0.bias', tf.tensor(b1v, [H]));
      p.add('f.layers.1.weight', tf.tensor(w2v, [H, N]));
      p.add('f.layers.1.bias', tf.tensor(b2v, [N]));
      const vars = ['f.layers.0.0.weight', 'f.layers.0.0.bias', 'f.layers.1.weight', 'f.layers.1.bias'].map((n) => p.get(n)) as tf.Variable[];
      const x = tf.tensor(xv, [...lead, K]);
      const before = tf.memory().numTensors;
      const [y, yTrain, dx, ...gw] = tf.tidy(() => {
        const f = (t: tf.Tensor) => tf.sum(tf.mul(ffn(p, 'f', t), tf.tensor(up, [...lead, N])));
        let yt: tf.Tensor | null = null;
        const dxt = tf.grad((t: tf.Tensor) => {
          yt = tf.keep(ffn(p, 'f', t)); // the output computed with the tape on (h kept)
          return tf.sum(tf.mul(yt, tf.tensor(up, [...lead, N])));
        })(x);
        const { grads } = tf.variableGrads(() => f(x) as tf.Scalar, vars);
        return [ffn(p, 'f', x), yt!, dxt, ...vars.map((v) => grads[v.name])];
      });
      expect(tf.memory().numTensors - before).toBe(7); // y, the taped y, dx and four parameter gradients: nothing leaked
      expect(y.shape).toEqual([...lead, N]);
      expect(Array.from(y.dataSync())).toEqual(Array.from(yTrain.dataSync()));
      const erfPhi = (t: number) => 0.5 * (1 + erf64(t / Math.SQRT2));
      const wy = new Float64Array(M * N);
      const [wdx, wdw1, wdb1, wdw2, wdb2] = [M * K, K * H, H, H * N, N].map((n) => new Float64Array(n));
      for (let i = 0; i < M; i++) {
        const h = Float64Array.from({ length: H }, (_, j) => { let s = b1v[j]; for (let k = 0; k < K; k++) s += xv[i * K + k] * w1v[k * H + j]; return s; });
        const g = h.map((t) => t * erfPhi(t));
        const dg = new Float64Array(H);
        for (let j = 0; j < N; j++) {
          let s = b2v[j];
          for (let q = 0; q < H; q++) {
            s += g[q] * w2v[q * N + j];
            dg[q] += up[i * N + j] * w2v[q * N + j];
            wdw2[q * N + j] += g[q] * up[i * N + j];
          }
          wy[i * N + j] = s;
          wdb2[j] += up[i * N + j];
        }
        const dh = dg.map((d, q) => d * (erfPhi(h[q]) + (h[q] * Math.exp(-h[q] * h[q] / 2)) / Math.sqrt(2 * Math.PI)));
        for (let q = 0; q < H; q++) {
          wdb1[q] += dh[q];
          for (let k = 0; k < K; k++) {
            wdx[i * K + k] += dh[q] * w1v[k * H + q];
            wdw1[k * H + q] += xv[i * K + k] * dh[q];
          }
        }
      }
      expectClose(y.dataSync(), wy, 2e-5, 'ffn y');
      expectClose(dx.dataSync(), wdx, 2e-5, 'ffn dx');
      const tolM = 2e-5 * Math.max(1, M / 300); // the parameter gradients sum M products in float32
      [wdw1, wdb1, wdw2, wdb2].forEach((want, i) => expectClose(gw[i].dataSync(), want, tolM, `ffn ${vars[i].name}`));
      tf.dispose([x, y, yTrain, dx, ...gw]);
      p.dispose();
    });
  }

  test('linearFused: null for the fallback cases (no addon, 1-D x, shape mismatch); any rank >= 2 keeps its leading dims', () => {
    const x = tf.zeros([2, 3]);
    const w = tf.zeros([3, 4]);
    const b = tf.zeros([4]);
    const x3 = tf.zeros([1, 2, 3]);
    const x1 = tf.zeros([3]);
    const bad = tf.zeros([5]);
    const y3 = linearFused(x3, w, b);
    if (!nativeAvailable()) expect(linearFused(x, w, b)).toBeNull();
    else expect(y3?.shape).toEqual([1, 2, 4]);
    expect(linearFused(x1, w, b)).toBeNull();
    expect(linearFused(x, w, bad)).toBeNull();
    expect(linearFused(w, w, null)).toBeNull();
    tf.dispose([x, w, b, x3, x1, bad, ...(y3 ? [y3] : [])]);
  });
});

describe.skipIf(!nativeAvailable())('native 2-thread split of the fused loops', () => {
  test('3x3 conv2d value and both gradients (images, one image\'s rows or Winograd tile chunks split over the pool): bitwise equal with 1 and 2 OpenBLAS threads', () => {
    const nat = loadNative()!;
    const before = nat.threads();
    // value, input and filter gradient of a 'same' 3x3 convolution with t threads
    const conv = (t: number, xs: number[], ws: number[], xv: Float32Array, wv: Float32Array, up: Float32Array): Float32Array[] => {
      nat.threads(t);
      return tf.tidy(() => {
        const x: tf.Tensor = tf.tensor(xv, xs);
        const w: tf.Tensor = tf.tensor(wv, ws);
        const ys = [...xs.slice(0, 3), ws[3]];
        const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), tf.tensor(up, ys)));
        const [gx, gw] = tf.grads(f)([x, w]);
        return [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), gx, gw].map((r) => r.dataSync() as Float32Array);
      });
    };
    const [xs, ws] = [[3, 9, 10, 16], [3, 3, 16, 8]];
    const xv = randn(prod(xs));
    const wv = randn(prod(ws));
    const up = randn(3 * 9 * 10 * 8);
    const run = (t: number) => conv(t, xs, ws, xv, wv, up);
    const one = (t: number): Float32Array => {
      nat.threads(t);
      return tf.tidy(() => tf.conv2d(tf.tensor4d(xv.subarray(0, 24 * 10 * 16), [1, 24, 10, 16]), tf.tensor4d(wv, [3, 3, 16, 8]), 1, 'same').dataSync() as Float32Array);
    };
    // Winograd-sized (native/src/kernels.c wg_wanted): forward and input gradient over tile chunks split over the pool
    const [wxs, wws] = [[2, 32, 36, 64], [3, 3, 64, 64]];
    const wx = randn(prod(wxs));
    const ww = randn(prod(wws));
    const wup = randn(prod(wxs));
    const wino = (t: number) => conv(t, wxs, wws, wx, ww, wup);
    try {
      const a = [...run(1), one(1), ...wino(1)];
      const b = [...run(2), one(2), ...wino(2)];
      a.forEach((v, i) => {
        let diff = 0;
        for (let j = 0; j < v.length; j++) if (!Object.is(v[j], b[i][j])) diff++;
        expect(diff, `output ${i}`).toBe(0);
      });
    } finally {
      nat.threads(before);
    }
  });
  test('GELU (+grad), LayerNorm (+grad), AdamW, binary ops, attention (+grad, + bias grad), Linear (+grads), FFN (+grad), train BatchNorm (+grad): bitwise equal with 1 and 2 OpenBLAS threads', () => {
    const nat = loadNative()!;
    const before = nat.threads();
    const N = (1 << 22) + 2200000;
    const heap0 = randn(N, 2);
    for (let i = 200000; i < 300000; i++) heap0[i] = Math.abs(heap0[i]); // AdamW v >= 0
    const run = (t: number): Float32Array => {
      nat.threads(t);
      const h = heap0.slice();
      const n = 300001;
      const rows = 777;
      const D = 384;
      nat.gelu(h, 0, 0, 400000, 1000000, n);
      nat.gelu(h, 1, 0, 400000, 1400000, n);
      nat.layerNorm(h, 0, 500000, 501000, 1000000, rows, D, 1e-6);
      nat.layerNormGrad(h, 0, 500000, 400000, 1300000, 1700000, 1701000, rows, D, 1e-6);
      nat.adamw(h, new Int32Array([0, 100000, 200000, 300000, 1800000, 1900000, 2000000, 99999]), new Float32Array([0.99, 0.1, 0.999, 0.001, 0.9, 1e-8, 0.001, 1]));
      // broadcasting binary ops, split over rows
      nat.binary(h, 0, 0, 100000, 2100000, Int32Array.of(7, 300, 129), Int32Array.of(300 * 129, 129, 1), Int32Array.of(0, 1, 0));
      nat.binary(h, 2, 0, 500000, 2500000, Int32Array.of(2000, 129), Int32Array.of(129, 1), Int32Array.of(0, 1));
      nat.binary(h, 3, 0, 500000, 2900000, Int32Array.of(300001), Int32Array.of(1), Int32Array.of(1));
      // attention forward (softmax rows split), without and with a relative position bias
      nat.attention(h, 0, Int32Array.of(0, 3300000, 3400000), Int32Array.of(4, 65, 3, 16), 0.25);
      nat.attention(h, 0, Int32Array.of(0, 3500000, 3600000, 700000), Int32Array.of(4, 65, 3, 16, 1), 0.25);
      // attention backward (items split over the pool when there is no bias)
      nat.attention(h, 1, Int32Array.of(0, 3400000, 3300000, 3700000), Int32Array.of(4, 65, 3, 16), 0.25);
      // large items (N > ATTN_L1_N and N*N*hd above ATTN_ITEM_SMALL): items split with OpenBLAS on one thread
      nat.attention(h, 0, Int32Array.of(0, 3900000, 3950000), Int32Array.of(2, 130, 1, 16), 0.25);
      nat.attention(h, 1, Int32Array.of(0, 3950000, 3900000, 4000000), Int32Array.of(2, 130, 1, 16), 0.25);
      // backward with the bias gradient (summed over the batch in two halves): small items, then large ones
      nat.attention(h, 1, Int32Array.of(0, 3600000, 3300000, 4400000, 4450000), Int32Array.of(5, 65, 3, 16, 1), 0.25);
      nat.attention(h, 0, Int32Array.of(0, 3900000, 3950000, 700000), Int32Array.of(3, 130, 1, 16, 1), 0.25);
      nat.attention(h, 1, Int32Array.of(0, 3950000, 3900000, 4470000, 4510000), Int32Array.of(3, 130, 1, 16, 1), 0.25);
      // Linear at M >= 1024 (the main-thread GEMM: OpenBLAS, or oneDNN when libdnnl is present): y = x W + b, dx, dW + db
      nat.linear(h, 0, Int32Array.of(0, 500000, 501000, 4520000), Int32Array.of(1100, 256, 192, 1));
      nat.linear(h, 1, Int32Array.of(400000, 500000, 4740000), Int32Array.of(1100, 256, 192, 1));
      nat.linear(h, 2, Int32Array.of(0, 400000, 5030000, 5080000), Int32Array.of(1100, 256, 192, 1));
      // FFN at M = 1100 (ten row blocks split over the pool, one-thread GEMMs inside): forward (keeping h), backward
      nat.ffn(h, 0, Int32Array.of(0, 500000, 501000, 600000, 700100, 5200000, 5500000, 5800000), Int32Array.of(1100, 64, 96, 40));
      nat.ffn(h, 1, Int32Array.of(0, 500000, 600000, 5200000, 5500000, 400000, 5900000, 5980000, 5990000, 5990100, 5994000, 6000000), Int32Array.of(1100, 64, 96, 40));
      // train-mode BatchNorm + ReLU over [1001, 130] rows: fixed row chunks for the sums, rows split for the rest
      nat.batchNormTrain(h, 0, Int32Array.of(0, 500000, 501000, 4100000, 4240000, 4241000), Int32Array.of(1001, 130, 1), 1e-5);
      nat.batchNormTrain(h, 1, Int32Array.of(0, 500000, 4100000, 400000, 4240000, 4241000, 4250000, 4390000, 4391000), Int32Array.of(1001, 130, 1), 1e-5);
      return h;
    };
    try {
      const a = run(1);
      const b = run(2);
      let diff = 0;
      for (let i = 0; i < N; i++) if (!Object.is(a[i], b[i])) diff++;
      expect(diff).toBe(0);
      expect(a).not.toEqual(heap0);
    } finally {
      nat.threads(before);
    }
  });
});
