/**
 * Replacements of stock tfjs wasm kernels that compute: BatchMatMul (any transpose flags, batch broadcasting; one
 * native sgemm per product with the addon, else an explicit transpose before the fast 2-D stock kernel), and, with
 * the addon only, Softmax (last axis), Erf / Exp, Add / Sub / Multiply / RealDiv (broadcasting) and Sum / Mean (one
 * run of consecutive axes). Each factory gets the stock kernel and calls it for anything it does not handle.
 * Registered by src/backend/registry.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { f32, off, size, type Kernel } from './heap.js';
import { loadNative, type NativeAddon } from './native.js';
import { transposeHeap } from './overrides-copy.js';

export function batchMatMulKernel(orig: Kernel): Kernel {
  return (args) => {
    const { a, b } = args.inputs;
    const transposeA = Boolean(args.attrs.transposeA);
    const transposeB = Boolean(args.attrs.transposeB);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return orig(args);
    const be = args.backend;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (K !== Kb) return orig(args); // let tfjs raise its own error
    let outer: number[];
    try {
      outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    } catch {
      return orig(args);
    }
    if (K === 0) {
      // an empty sum: zeros (the stock wasm kernel leaves its output uninitialised here)
      const out = be.makeOutput([...outer, M, N], 'float32');
      const o = off(be, out);
      f32(be).fill(0, o, o + size(outer) * M * N);
      return out;
    }
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    const batch = Math.max(batchA, batchB);
    const nat = loadNative();
    if (!nat) {
      // Stock wasm is fast only for one plain 2-D product: transpose explicitly, then call it.
      if (batch !== 1 || (!transposeA && !transposeB)) return orig(args);
      const tmp: tf.TensorInfo[] = [];
      const flip = (t: tf.TensorInfo, rows: number, cols: number) => {
        const o = be.makeOutput([cols, rows], 'float32');
        transposeHeap(be, off(be, t), off(be, o), [rows, cols], [1, 0]);
        tmp.push(o);
        return o;
      };
      const a2 = transposeA ? flip(a, K, M) : a;
      const b2 = transposeB ? flip(b, N, K) : b;
      const res = orig({ ...args, inputs: { a: a2, b: b2 }, attrs: { ...args.attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
      for (const t of tmp) be.disposeData(t.dataId);
      return res;
    }
    const out = be.makeOutput([...outer, M, N], 'float32');
    const a0 = off(be, a);
    const b0 = off(be, b);
    const c0 = off(be, out);
    const nOut = size(outer);
    const oa = new Int32Array(nOut);
    const ob = new Int32Array(nOut);
    const oc = new Int32Array(nOut);
    if (nOut === batch) {
      // tfjs's own (cpu and wasm) batch rule: flattened batch index modulo each operand's batch size
      for (let i = 0; i < nOut; i++) {
        oa[i] = a0 + (i % batchA) * M * K;
        ob[i] = b0 + (i % batchB) * K * N;
        oc[i] = c0 + i * M * N;
      }
    } else {
      // both operands broadcast (e.g. [3,1,..] x [3,..]): stock tfjs fills only max(batchA, batchB) products
      // here; compute every product with numpy broadcasting instead.
      const plan = broadcastPlan(a.shape.slice(0, -2), b.shape.slice(0, -2));
      const r = plan.shape.length;
      const idx = new Array<number>(r).fill(0);
      let ia = 0;
      let ib = 0;
      for (let i = 0; i < nOut; i++) {
        oa[i] = a0 + ia * M * K;
        ob[i] = b0 + ib * K * N;
        oc[i] = c0 + i * M * N;
        for (let d = r - 1; d >= 0; d--) {
          idx[d]++;
          ia += plan.as[d];
          ib += plan.bs[d];
          if (idx[d] < plan.shape[d]) break;
          ia -= plan.as[d] * plan.shape[d];
          ib -= plan.bs[d] * plan.shape[d];
          idx[d] = 0;
        }
      }
    }
    if (M * N > 0) nat.gemm(f32(be), oa, ob, oc, M, N, K, transposeA ? 1 : 0, transposeB ? 1 : 0);
    return out;
  };
}

export function softmaxKernel(orig: Kernel, nat: NativeAddon): Kernel {
  return (args) => {
    const { logits } = args.inputs;
    const r = logits.shape.length;
    const dim = args.attrs.dim as number;
    if (logits.dtype !== 'float32' || r === 0 || (dim !== -1 && dim !== r - 1)) return orig(args);
    const be = args.backend;
    const out = be.makeOutput([...logits.shape], 'float32');
    const cols = logits.shape[r - 1];
    if (cols > 0) nat.softmax(f32(be), off(be, logits), off(be, out), size(logits.shape) / cols, cols);
    return out;
  };
}

export function unaryKernel(orig: Kernel, nat: NativeAddon, op: number): Kernel {
  return (args) => {
    const { x } = args.inputs;
    if (x.dtype !== 'float32') return orig(args);
    const be = args.backend;
    const out = be.makeOutput([...x.shape], 'float32');
    const n = size(x.shape);
    if (n > 0) nat.unary(f32(be), op, off(be, x), off(be, out), n);
    return out;
  };
}

/** Output shape plus per-operand strides (0 on broadcast axes), with size-1 axes dropped and mergeable axes merged. */
export function broadcastPlan(aShape: number[], bShape: number[]): { out: number[]; shape: number[]; as: number[]; bs: number[] } {
  const out = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  const r = out.length;
  const strides = (sh: number[]) => {
    const st = new Array<number>(r).fill(0);
    for (let d = r - 1, s = 1, k = sh.length - 1; d >= 0; d--, k--) {
      const n = k >= 0 ? sh[k] : 1;
      st[d] = n === 1 ? 0 : s;
      s *= n;
    }
    return st;
  };
  const as0 = strides(aShape);
  const bs0 = strides(bShape);
  const shape: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  for (let d = 0; d < r; d++) {
    if (out[d] === 1) continue;
    const k = shape.length - 1;
    if (k >= 0 && as[k] === as0[d] * out[d] && bs[k] === bs0[d] * out[d]) {
      shape[k] *= out[d];
      as[k] = as0[d];
      bs[k] = bs0[d];
    } else {
      shape.push(out[d]);
      as.push(as0[d]);
      bs.push(bs0[d]);
    }
  }
  if (shape.length === 0) {
    shape.push(1);
    as.push(0);
    bs.push(0);
  }
  return { out, shape, as, bs };
}

export function binaryKernel(orig: Kernel, nat: NativeAddon, op: number): Kernel {
  return (args) => {
    const { a, b } = args.inputs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return orig(args);
    let plan: ReturnType<typeof broadcastPlan>;
    try {
      plan = broadcastPlan(a.shape, b.shape);
    } catch {
      return orig(args);
    }
    if (plan.shape.length > 8) return orig(args);
    const be = args.backend;
    const out = be.makeOutput(plan.out, 'float32');
    if (size(plan.out) > 0) {
      nat.binary(f32(be), op, off(be, a), off(be, b), off(be, out), Int32Array.from(plan.shape), Int32Array.from(plan.as), Int32Array.from(plan.bs));
    }
    return out;
  };
}

/** Sum (mean = false) or Mean over contiguous axes: one native pass (out[o, i] = sum_r x[o, r, i]), Mean then divides. */
export function sumKernel(orig: Kernel, nat: NativeAddon, mean = false): Kernel {
  return (args) => {
    const { x } = args.inputs;
    if (x.dtype !== 'float32' || x.shape.length === 0) return orig(args);
    let axes: number[];
    try {
      axes = [...new Set(tf.util.parseAxisParam(args.attrs.axis as number | number[], x.shape))].sort((p, q) => p - q);
    } catch {
      return orig(args);
    }
    if (axes.length === 0 || axes[axes.length - 1] - axes[0] !== axes.length - 1) return orig(args);
    const sh = x.shape;
    const O = size(sh.slice(0, axes[0]));
    const R = size(sh.slice(axes[0], axes[axes.length - 1] + 1));
    const I = size(sh.slice(axes[axes.length - 1] + 1));
    const outShape = args.attrs.keepDims ? sh.map((d, i) => (axes.includes(i) ? 1 : d)) : sh.filter((_, i) => !axes.includes(i));
    const be = args.backend;
    const out = be.makeOutput(outShape, 'float32');
    if (O * I > 0) nat.reduceSum(f32(be), off(be, x), off(be, out), O, R, I);
    if (mean && O * I > 0) {
      // tfjs divides the float32 sum by the reduce size (a float64 quotient rounded to float32 is the same)
      const h = f32(be);
      const o0 = off(be, out);
      for (let i = o0; i < o0 + O * I; i++) h[i] = h[i] / R;
    }
    return out;
  };
}
