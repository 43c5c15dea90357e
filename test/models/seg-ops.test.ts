/**
 * The ops under the seg model, on the default backend (wasm here): gradients of linear ops checked with the identity
 * <∂/∂x <f(x), dy>, x> = <f(x), dy> (f linear in x), which tests each backward against its forward (the forwards
 * are pinned by the golden fixtures), plus pooling bins, BN statistics and slide windows from mmseg's rules.
 */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { ParamStore } from '../../src/nn/params.js';
import { adaptiveAvgPool, adaptiveBins, applyBnUpdates, batchNorm, bnCtx, addBatchNorm, maxPool } from '../../src/nn/conv.js';
import { resizeBilinear, resizeNearestLabels } from '../../src/nn/resize.js';
import { slideWindows } from '../../src/eval/slide.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

/**
 * For f linear in x: [<grad, x>, <f(x), dy>, Σ|grad·x|]. The first two must agree; the third scales the
 * tolerance (the inner products can cancel to near 0).
 */
function adjointPair(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, seed: number): [number, number, number] {
  return tf.tidy(() => {
    const y = f(x);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', seed);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), dy)))(x);
    const gx = tf.mul(g, x);
    return [tf.sum(gx).dataSync()[0], tf.sum(tf.mul(y, dy)).dataSync()[0], tf.sum(tf.abs(gx)).dataSync()[0]];
  });
}

const close = ([a, b, scale]: [number, number, number]) => {
  expect(scale).toBeGreaterThan(0);
  expect(Math.abs(a - b) / scale).toBeLessThan(1e-5);
};

describe('gradients of linear ops (adjoint identity)', () => {
  test('bilinear resize up and down, square and rect (tfjs ResizeBilinearGrad ignores half-pixel centres)', () => {
    const x = tf.randomNormal([2, 5, 7, 3], 0, 1, 'float32', 1);
    for (const size of [[20, 28], [3, 4], [8, 5], [5, 7]] as [number, number][]) close(adjointPair((a) => resizeBilinear(a as tf.Tensor4D, size), x, 2));
    x.dispose();
  });

  test('3x3 conv filter gradient (JS Conv2DBackpropFilter on wasm), with stride and padding', () => {
    const x = tf.randomNormal([2, 9, 8, 4], 0, 1, 'float32', 3);
    const w = tf.randomNormal([3, 3, 4, 5], 0, 1, 'float32', 4);
    for (const [s, pad] of [[1, 1], [2, 1], [1, 2], [2, 0], [1, 0]]) {
      close(adjointPair((a) => tf.conv2d(x as tf.Tensor4D, a as tf.Tensor4D, s, pad), w, 5));
    }
    tf.dispose([x, w]);
  });

  test('gather gradient (UnsortedSegmentSum) with repeated indices', () => {
    const t = tf.randomNormal([13, 3], 0, 1, 'float32', 6);
    const idx = tf.tensor1d([0, 5, 5, 12, 3, 0, 0, 7], 'int32');
    close(adjointPair((a) => tf.gather(a, idx), t, 7));
    tf.dispose([t, idx]);
  });

  test('adaptive average pool with overlapping bins and more bins than pixels', () => {
    const x = tf.randomNormal([2, 5, 4, 3], 0, 1, 'float32', 8);
    for (const s of [1, 2, 3, 6]) close(adjointPair((a) => adaptiveAvgPool(a as tf.Tensor4D, s), x, 9));
    x.dispose();
  });
});

describe('max pool', () => {
  test('gradient goes to the first maximum of each window (wasm MaxPoolGrad is wrong)', () => {
    // 3x3 input, one 2x2 window (floor mode drops row/col 2): [[1, 3], [3, 0]] -> max 3, first at (0, 1)
    const x = tf.tensor4d([1, 3, 8, 3, 0, 8, 8, 8, 8], [1, 3, 3, 1]);
    const y = maxPool(x, 2);
    expect(Array.from(y.dataSync())).toEqual([3]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(maxPool(a as tf.Tensor4D, 2), 7)))(x);
    expect(Array.from(g.dataSync()).map((v) => v + 0)).toEqual([0, 7, 0, 0, 0, 0, 0, 0, 0]);
    tf.dispose([x, y, g]);
  });

  test('gradient = dy at the argmax, random input', () => {
    const x = tf.randomNormal([2, 4, 6, 3], 0, 1, 'float32', 10);
    const dy = tf.randomNormal([2, 2, 3, 3], 0, 1, 'float32', 11);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(maxPool(a as tf.Tensor4D, 2), dy)))(x).dataSync();
    const xv = x.dataSync();
    const dv = dy.dataSync();
    const want = new Float32Array(xv.length);
    for (let b = 0; b < 2; b++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) {
      let best = -Infinity;
      let at = -1;
      for (let u = 0; u < 2; u++) for (let v = 0; v < 2; v++) {
        const k = ((b * 4 + 2 * i + u) * 6 + 2 * j + v) * 3 + c;
        if (xv[k] > best) [best, at] = [xv[k], k];
      }
      want[at] = dv[((b * 2 + i) * 3 + j) * 3 + c];
    }
    expect(Array.from(g).map((v) => v + 0)).toEqual(Array.from(want));
    tf.dispose([x, dy]);
  });
});

describe('pooling bins, BN statistics, slide windows, nearest labels', () => {
  test('adaptive bins as PyTorch (mmseg notes table for a 16x16 map)', () => {
    expect(adaptiveBins(16, 3)).toEqual([[0, 6], [5, 11], [10, 16]]);
    expect(adaptiveBins(16, 6)).toEqual([[0, 3], [2, 6], [5, 8], [8, 11], [10, 14], [13, 16]]);
    expect(adaptiveBins(2, 6)).toEqual([[0, 1], [0, 1], [0, 1], [1, 2], [1, 2], [1, 2]]);
  });

  test('BatchNorm train: biased variance normalises, unbiased variance updates the running stats', () => {
    const p = new ParamStore();
    addBatchNorm(p, 'bn', 2);
    const vals = [1, 10, 2, 20, 4, 40, 7, 70, 1, 11, 3, 33]; // [B=3, 2, 1, C=2]
    const x = tf.tensor4d(vals, [3, 2, 1, 2]);
    const ctx = bnCtx(true, { eps: 1e-5, momentum: 0.1 });
    const y = batchNorm(p, 'bn', x, ctx);
    const ch = (c: number) => vals.filter((_, i) => i % 2 === c);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const ss = (a: number[]) => a.reduce((s, v) => s + (v - mean(a)) ** 2, 0);
    const yv = y.dataSync();
    const a0 = ch(0);
    expect(yv[0]).toBeCloseTo((a0[0] - mean(a0)) / Math.sqrt(ss(a0) / 6 + 1e-5), 5);
    const before = tf.memory().numTensors;
    applyBnUpdates(p, ctx.updates);
    expect(tf.memory().numTensors).toBe(before - 3);
    for (const c of [0, 1]) {
      const a = ch(c);
      expect(p.get('bn.running_mean').dataSync()[c]).toBeCloseTo(0.1 * mean(a), 4);
      expect(p.get('bn.running_var').dataSync()[c]).toBeCloseTo(0.9 + 0.1 * (ss(a) / 5), 3);
    }
    expect(p.get('bn.num_batches_tracked').dataSync()[0]).toBe(1);
    expect(() => batchNorm(p, 'bn', tf.zeros([1, 1, 1, 2]) as tf.Tensor4D, bnCtx(true))).toThrow(/more than 1 value/);
    tf.dispose([x, y]);
    p.dispose();
  });

  test('slide windows: mmseg examples (512x683 and 512x1365, crop 512, stride 341)', () => {
    expect(slideWindows(512, 683, [512, 512], [341, 341]).map((w) => [w[2], w[3]])).toEqual([[0, 512], [171, 683]]);
    expect(slideWindows(512, 1365, [512, 512], [341, 341]).map((w) => [w[2], w[3]])).toEqual([[0, 512], [341, 853], [682, 1194], [853, 1365]]);
    expect(slideWindows(512, 512, [512, 512], [341, 341])).toEqual([[0, 512, 0, 512]]);
  });

  test('nearest label resize uses the floor rule', () => {
    const src = Uint8Array.from([0, 1, 2, 3, 4, 5]); // 2x3
    expect(Array.from(resizeNearestLabels(src, 2, 3, 4, 6))).toEqual([0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 3, 3, 4, 4, 5, 5]);
    expect(Array.from(resizeNearestLabels(src, 2, 3, 1, 2))).toEqual([0, 1]);
  });
});
