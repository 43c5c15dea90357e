/**
 * Every kernel override and fused op of the CPU engine with the wasm heap growing inside each of its allocations.
 *
 * Growing wasm memory detaches the old ArrayBuffer: a heap view (or a length read from one) kept across a
 * `makeOutput` then reads as empty, silently. That was the 512² drift from mmseg (issue 14): GatherV2 read the index
 * count from a view taken before its output allocation, so once the relative-position-bias gather was the call that
 * grew the heap it copied nothing. Here `makeOutput` is wrapped so that each call grows the heap (filler mallocs until
 * the buffer changes), and every op is compared with the same op run without forced growth, whose values the
 * float64 references of kernels.test.ts check; the copy ops (gather, transpose, split, unstack) are also compared
 * with plain JS references. kernels-both.test.ts reruns this file with MFF_NATIVE=0.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { adamwUpdate, addLayerNorm, attentionCore, ffnFused, gelu, layerNorm, linearFused } from '../../src/backend/fused.js';
import { nativeAvailable } from '../../src/backend/native.js';
import { relativePositionIndex } from '../../src/models/seg/mae-backbone.js';

interface HeapBackend {
  wasm: { HEAPU8: Uint8Array; _malloc(n: number): number; _free(p: number): void };
  makeOutput: (...a: unknown[]) => tf.TensorInfo;
}

let seed = 7;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const randn = (n: number) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Run fn with every backend allocation followed by a heap growth. Returns fn's tensors' values and the number of
 * growths forced (each one detached every view taken before it).
 */
function withGrowth(fn: () => tf.Tensor | tf.Tensor[]): { values: Float32Array[]; growths: number } {
  const be = tf.backend() as unknown as HeapBackend;
  const proto = Object.getPrototypeOf(be).makeOutput as HeapBackend['makeOutput'];
  const fillers: number[] = [];
  let growths = 0;
  be.makeOutput = function (this: HeapBackend, ...a: unknown[]) {
    const out = proto.apply(this, a);
    const buf = be.wasm.HEAPU8.buffer;
    const chunk = Math.max(1 << 16, buf.byteLength >>> 5);
    while (be.wasm.HEAPU8.buffer === buf) {
      const p = be.wasm._malloc(chunk);
      if (!p) throw new Error('filler malloc failed');
      fillers.push(p);
    }
    growths++;
    return out;
  };
  try {
    const outs = tf.tidy(fn);
    const list = Array.isArray(outs) ? outs : [outs];
    const values = list.map((t) => t.dataSync() as Float32Array);
    tf.dispose(list);
    return { values, growths };
  } finally {
    delete (be as Partial<HeapBackend>).makeOutput;
    for (const p of fillers) be.wasm._free(p);
  }
}

function plain(fn: () => tf.Tensor | tf.Tensor[]): Float32Array[] {
  const outs = tf.tidy(fn);
  const list = Array.isArray(outs) ? outs : [outs];
  const values = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  return values;
}

/** The op under forced growth equals the op without it, bit for bit; growth really happened inside it. */
function expectGrowthInvariant(what: string, fn: () => tf.Tensor | tf.Tensor[], ref?: Float32Array[]): void {
  const want = ref ?? plain(fn);
  const got = withGrowth(fn);
  expect(got.growths, `${what}: no allocation was made, so nothing was checked`).toBeGreaterThan(0);
  expect(got.values.length).toBe(want.length);
  got.values.forEach((v, i) => {
    expect(v.length, `${what}[${i}] length`).toBe(want[i].length);
    let bad = 0;
    let first = -1;
    for (let j = 0; j < v.length; j++)
      if (!Object.is(v[j], want[i][j])) {
        bad++;
        if (first < 0) first = j;
      }
    expect(bad, `${what}[${i}]: ${bad} of ${v.length} values differ, first at ${first}: ${v[first]} vs ${want[i][first]}`).toBe(0);
  });
}

/**
 * A fresh wasm backend (a new module instance, 16 MB heap) for each case: each forced growth enlarges the heap by
 * at least 20 %, so the cases stay cheap only if they do not inherit each other's heap.
 */
async function freshWasm(): Promise<void> {
  const factory = tf.findBackendFactory('wasm');
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', factory, 2);
  await tf.setBackend('wasm');
}

let tensors0 = 0;
beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
});
beforeEach(async () => {
  await freshWasm();
  tensors0 = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors, 'tensor leak').toBe(tensors0);
});

/** Gradient kernels are run directly (tf.grads would add dozens of allocations, each one forcing a growth). */
const kernel = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}) =>
  tf.engine().runKernel(name, inputs as never, attrs as never) as tf.Tensor | tf.Tensor[];

const native = nativeAvailable();

describe(`kernels with the wasm heap growing inside every allocation (${process.env.MFF_NATIVE === '0' ? 'MFF_NATIVE=0' : 'native if built'})`, () => {
  test('the forced growth detaches views taken before it (the harness itself can fail)', () => {
    const be = tf.backend() as unknown as HeapBackend;
    let stale: Float32Array | null = null;
    const x = tf.ones([4]);
    withGrowth(() => {
      stale = new Float32Array(be.wasm.HEAPU8.buffer);
      return tf.add(x, 1);
    });
    expect(stale!.length).toBe(0);
    x.dispose();
  });

  test('GatherV2: relative position bias table gather (the 512² drift), and a gather on an inner axis', () => {
    const g = 12;
    const H = 3;
    const T = (2 * g - 1) * (2 * g - 1) + 3;
    const table = randn(T * H);
    const idx = relativePositionIndex(g, g);
    const want = new Float32Array(idx.length * H);
    idx.forEach((k, i) => {
      for (let h = 0; h < H; h++) want[i * H + h] = table[k * H + h];
    });
    const t = tf.tensor2d(table, [T, H]);
    const it = tf.tensor1d(idx, 'int32');
    expectGrowthInvariant('gather axis 0', () => tf.gather(t, it), [want]);
    const x = tf.tensor3d(randn(2 * 5 * 7), [2, 5, 7]);
    const ix = tf.tensor1d([4, 0, 0, 6, 2], 'int32');
    expectGrowthInvariant('gather axis 2', () => tf.gather(x, ix, 2));
    tf.dispose([t, it, x, ix]);
  });

  test('copies: Transpose, SplitV, Unpack, Slice, Concat', () => {
    const shape = [3, 4, 5, 6];
    const v = randn(prod(shape));
    const x = tf.tensor(v, shape);
    const perm = [2, 0, 3, 1];
    const os = perm.map((p) => shape[p]);
    const want = new Float32Array(prod(os));
    const st = shape.map((_, i) => prod(shape.slice(i + 1)));
    for (let f = 0; f < want.length; f++) {
      let rem = f;
      let src = 0;
      for (let d = os.length - 1; d >= 0; d--) {
        src += (rem % os[d]) * st[perm[d]];
        rem = Math.floor(rem / os[d]);
      }
      want[f] = v[src];
    }
    expectGrowthInvariant('transpose', () => tf.transpose(x, perm), [want]);
    expectGrowthInvariant('split', () => tf.split(x, [1, 3, 1], 2));
    expectGrowthInvariant('unstack', () => tf.unstack(x, 0));
    expectGrowthInvariant('slice', () => tf.slice(x, [1, 0, 2, 1], [2, 4, 3, 4]));
    expectGrowthInvariant('concat', () => tf.concat([x, tf.slice(x, [0, 0, 0, 0], [3, 4, 5, 2])], 3));
    tf.dispose(x);
  });

  test('BatchMatMul: transposes and broadcast batches', () => {
    const a = tf.tensor(randn(2 * 3 * 7 * 5), [2, 3, 7, 5]);
    const b = tf.tensor(randn(3 * 6 * 5), [3, 6, 5]);
    const c = tf.tensor(randn(2 * 1 * 5 * 4), [2, 1, 5, 4]);
    const p = tf.tensor2d(randn(42 * 5), [42, 5]);
    const q = tf.tensor2d(randn(42 * 3), [42, 3]);
    expectGrowthInvariant('matMul batched tB', () => tf.matMul(a, b, false, true));
    expectGrowthInvariant('matMul both broadcast', () => tf.matMul(a, c));
    expectGrowthInvariant('matMul 2-D tA', () => tf.matMul(p, q, true, false));
    expectGrowthInvariant('matMul 2-D tB', () => tf.matMul(p, tf.reshape(c, [8, 5]), false, true));
    tf.dispose([a, b, c, p, q]);
  });

  test('elementwise and reductions: Softmax, Erf, Exp, broadcasting binary ops, Sum, Mean', () => {
    const a = tf.tensor(randn(2 * 3 * 7 * 5), [2, 3, 7, 5]);
    const c = tf.tensor(randn(2 * 1 * 7 * 5), [2, 1, 7, 5]);
    const d = tf.tensor(Float32Array.from(randn(70), (v) => Math.abs(v) + 1), [2, 1, 7, 5]);
    expectGrowthInvariant('softmax', () => tf.softmax(a));
    expectGrowthInvariant('erf', () => tf.erf(a));
    expectGrowthInvariant('exp', () => tf.exp(a));
    expectGrowthInvariant('add', () => tf.add(a, c));
    expectGrowthInvariant('sub', () => tf.sub(c, a));
    expectGrowthInvariant('mul', () => tf.mul(a, c));
    expectGrowthInvariant('div', () => tf.div(a, d));
    expectGrowthInvariant('sum', () => tf.sum(a, [1, 2]));
    expectGrowthInvariant('mean', () => tf.mean(a, -1));
    tf.dispose([a, c, d]);
  });

  test('convolutions: Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter, FusedConv2D (bias + ReLU)', () => {
    const x = tf.tensor4d(randn(2 * 9 * 9 * 4), [2, 9, 9, 4]);
    const w = tf.tensor4d(randn(3 * 3 * 4 * 5), [3, 3, 4, 5]);
    const dy = tf.tensor4d(randn(2 * 5 * 5 * 5), [2, 5, 5, 5]);
    const bias = tf.tensor1d(randn(5));
    expectGrowthInvariant('conv2d', () => tf.conv2d(x, w, 1, 'same'));
    expectGrowthInvariant('conv2d stride 2', () => tf.conv2d(x, w, 2, 'same'));
    expectGrowthInvariant('conv2dBackpropInput', () => kernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 2, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: [2, 9, 9, 4] }));
    expectGrowthInvariant('conv2dBackpropFilter', () => kernel('Conv2DBackpropFilter', { x, dy }, { strides: 2, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [3, 3, 4, 5] }));
    expectGrowthInvariant('fused conv2d', () => tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'relu' }));
    tf.dispose([x, w, dy, bias]);
  });

  test.skipIf(!native)('fused ops (native): GELU, LayerNorm, add + LayerNorm, Linear, FFN, attention with relative position bias, AdamW, train-mode BatchNorm, and their gradient kernels', () => {
    const x = tf.tensor3d(randn(2 * 10 * 12), [2, 10, 12]);
    const dy = tf.tensor3d(randn(2 * 10 * 12), [2, 10, 12]);
    const lw = tf.tensor1d(randn(12));
    const lb = tf.tensor1d(randn(12));
    expectGrowthInvariant('gelu', () => gelu(x));
    expectGrowthInvariant('gelu grad', () => kernel('MffGeluGrad', { x, dy }));
    expectGrowthInvariant('layerNorm', () => layerNorm(x, lw, lb, 1e-6));
    expectGrowthInvariant('layerNorm grad', () => kernel('MffLayerNormGrad', { x, weight: lw, dy }, { eps: 1e-6 }));
    expectGrowthInvariant('add + layerNorm', () => addLayerNorm(x, dy, lw, lb, 1e-6)!);
    expectGrowthInvariant('add + layerNorm grad', () => kernel('MffAddLayerNormGrad', { s: x, weight: lw, dy, ds: x }, { eps: 1e-6 }));
    const x2 = tf.reshape(x, [20, 12]);
    const dy2 = tf.tensor2d(randn(20 * 9), [20, 9]);
    const W = tf.tensor2d(randn(12 * 9), [12, 9]);
    const Wb = tf.tensor1d(randn(9));
    expectGrowthInvariant('linear', () => linearFused(x2, W, Wb)!);
    expectGrowthInvariant('linear no bias', () => linearFused(x2, W, null)!);
    expectGrowthInvariant('linear grad x', () => kernel('MffLinearGradX', { dy: dy2, weight: W }));
    expectGrowthInvariant('linear grad W, b', () => kernel('MffLinearGradW', { x: x2, dy: dy2 }, { hasBias: true }));
    const W2 = tf.tensor2d(randn(9 * 5), [9, 5]);
    const W2b = tf.tensor1d(randn(5));
    expectGrowthInvariant('ffn (inference)', () => ffnFused(x2, W, Wb, W2, W2b)!);
    expectGrowthInvariant('ffn (train)', () => kernel('MffFfn', { x: x2, w1: W, b1: Wb, w2: W2, b2: W2b }, { train: true }));
    const [fy, fg, fh] = kernel('MffFfn', { x: x2, w1: W, b1: Wb, w2: W2, b2: W2b }, { train: true }) as tf.Tensor[];
    const fdy = tf.tensor2d(randn(20 * 5), [20, 5]);
    expectGrowthInvariant('ffn grad', () => kernel('MffFfnGrad', { x: x2, w1: W, w2: W2, h: fh, g: fg, dy: fdy }));
    tf.dispose([fy, fg, fh, fdy, W2, W2b]);
    const qkv = tf.tensor3d(randn(2 * 10 * 36), [2, 10, 36]);
    const rel = tf.tensor3d(randn(3 * 10 * 10), [3, 10, 10]);
    const ady = tf.tensor3d(randn(2 * 10 * 12), [2, 10, 12]);
    expectGrowthInvariant('attention + bias', () => kernel('MffAttention', { qkv, bias: rel }, { numHeads: 3, scale: 0.5 }));
    const probs = (kernel('MffAttention', { qkv, bias: rel }, { numHeads: 3, scale: 0.5 }) as tf.Tensor[]);
    expectGrowthInvariant('attention grad', () => kernel('MffAttentionGrad', { qkv, probs: probs[1], dy: ady }, { numHeads: 3, scale: 0.5, hasBias: true }));
    tf.dispose(probs);
    const viaOp = attentionCore(qkv, 3, 0.5); // the public op takes this kernel
    expect(viaOp).not.toBeNull();
    tf.dispose(viaOp!);
    const p = tf.tensor1d(randn(50));
    const m = tf.tensor1d(randn(50));
    const v = tf.tensor1d(Float32Array.from(randn(50), Math.abs));
    const gr = tf.tensor1d(randn(50));
    expectGrowthInvariant('adamw', () => adamwUpdate(p, m, v, gr, { lr: 1e-3, weightDecay: 0.05, beta1: 0.9, beta2: 0.95, eps: 1e-8, step: 3 })!);
    const bx = tf.tensor4d(randn(2 * 3 * 5 * 12), [2, 3, 5, 12]);
    const bdy = tf.tensor4d(randn(2 * 3 * 5 * 12), [2, 3, 5, 12]);
    expectGrowthInvariant('batchNorm train + relu', () => kernel('MffBatchNormTrain', { x: bx, weight: lw, bias: lb }, { eps: 1e-5, relu: true }));
    const fwd = kernel('MffBatchNormTrain', { x: bx, weight: lw, bias: lb }, { eps: 1e-5, relu: true }) as tf.Tensor[];
    expectGrowthInvariant('batchNorm train grad', () => kernel('MffBatchNormTrainGrad', { x: bx, weight: lw, y: fwd[0], dy: bdy, mean: fwd[1], variance: fwd[2] }, { eps: 1e-5, relu: true }));
    tf.dispose([...fwd, bx, bdy]);
    tf.dispose([x, dy, lw, lb, x2, dy2, W, Wb, qkv, rel, ady, p, m, v, gr]);
  });
});
