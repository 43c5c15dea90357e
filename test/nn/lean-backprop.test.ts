/**
 * The lean backward (src/backend/lean-backprop.ts, issue 14): bitwise the same value and gradients as tfjs's own
 * `Engine.gradients` on a seg train step (BN custom ops, checkpointed backbone blocks and fpn_bottleneck parts, the
 * banded loss, shared-dy gradients of addSameShape), nested tf.grads and an explicit dy; no leaked tensors; and a lower
 * peak of live bytes during the backward (saved tensors and gradients freed as the tape is walked).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { installLeanBackprop, leanBackpropInstalled, uninstallLeanBackprop } from '../../src/backend/lean-backprop.js';
import { buildSegmentor, segTrainGrads } from '../../src/models/seg/segmentor.js';
import { addSameShape } from '../../src/nn/conv.js';
import { checkpoint } from '../../src/nn/checkpoint.js';
import { Rng } from '../../src/io/rng.js';
import { tinySegConfig } from '../seg/helpers.js';

let wasInstalled = false;
beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
  wasInstalled = leanBackpropInstalled();
});
afterAll(() => {
  if (wasInstalled) installLeanBackprop();
  else uninstallLeanBackprop();
});

/** Peak of live tensor bytes (tf.memory().numBytes) over every kernel run while `f` runs, above the bytes at its start. */
function withPeak<T>(f: () => T): { out: T; peak: number } {
  const eng = tf.engine() as unknown as { runKernelFunc: (k: unknown) => unknown; state: { numBytes: number } };
  const orig = eng.runKernelFunc;
  const base = eng.state.numBytes;
  let peak = 0;
  eng.runKernelFunc = function (this: unknown, k: unknown) {
    const r = orig.call(this, k);
    peak = Math.max(peak, eng.state.numBytes - base);
    return r;
  };
  try {
    return { out: f(), peak };
  } finally {
    eng.runKernelFunc = orig;
  }
}

function segStep(lean: boolean) {
  if (lean) installLeanBackprop();
  else uninstallLeanBackprop();
  const cfg = tinySegConfig('/nonexistent').model;
  const model = buildSegmentor({ ...cfg, backbone: { ...cfg.backbone, withCp: true, dropPathRate: 0.2 } }, new Rng(3));
  const S = cfg.backbone.imgSize;
  const B = 2;
  const K = cfg.decodeHead.numClasses;
  const imgs = tf.tensor4d(Float32Array.from({ length: B * S * S * 3 }, (_, i) => Math.sin(i * 0.37)), [B, S, S, 3]);
  const labels = tf.tensor3d(Int32Array.from({ length: B * S * S }, (_, i) => (i * 7) % K), [B, S, S], 'int32');
  const before = tf.memory().numTensors;
  const { out: st, peak } = withPeak(() => segTrainGrads(model, imgs, labels, { rng: new Rng(5), stochastic: true }));
  const grads = new Map([...st.grads].map(([k, g]) => [k, Array.from(g.dataSync())]));
  const bn = new Map([...st.bnUpdates].map(([k, g]) => [k, Array.from(g.dataSync())]));
  tf.dispose([...st.grads.values(), ...st.bnUpdates.values()]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([imgs, labels]);
  model.params.dispose();
  return { loss: st.loss, grads, bn, peak };
}

test('seg train step: bitwise the same loss, gradients and BN updates as tfjs, lower peak, no leaks', () => {
  const a = segStep(false);
  const b = segStep(true);
  expect(b.loss).toBe(a.loss);
  expect([...b.grads.keys()].sort()).toEqual([...a.grads.keys()].sort());
  for (const [k, g] of a.grads) expect(b.grads.get(k), k).toEqual(g);
  for (const [k, v] of a.bn) expect(b.bn.get(k), k).toEqual(v);
  expect(b.peak).toBeLessThanOrEqual(a.peak);
});

test('a chain of 12 ops: the backward holds the frontier, not every saved input and gradient', () => {
  const run = () => {
    const x = tf.variable(tf.linspace(-1, 1, 1 << 16));
    const before = tf.memory().numTensors;
    const { out, peak } = withPeak(() =>
      tf.variableGrads(() => {
        let h: tf.Tensor = x;
        for (let i = 0; i < 12; i++) {
          const next = tf.sin(h); // saves its input (a clone); its gradient is x-sized
          if (h !== x) h.dispose(); // only the saved clone stays: the forward holds ~12 maps
          h = next;
        }
        return tf.sum(h) as tf.Scalar;
      }, [x]),
    );
    const g = Array.from(out.grads[x.name].dataSync());
    tf.dispose([out.value, ...Object.values(out.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    return { g, peak };
  };
  uninstallLeanBackprop();
  const a = run();
  installLeanBackprop();
  const b = run();
  expect(b.g).toEqual(a.g);
  // above the start: stock holds 12 saved inputs + 12 gradients at its peak; lean the saved inputs + a few gradients
  const unit = 4 << 16;
  expect(a.peak).toBeGreaterThanOrEqual(22 * unit);
  expect(b.peak, `lean ${b.peak / unit} vs stock ${a.peak / unit} maps`).toBeLessThanOrEqual(18 * unit);
  expect(b.peak).toBeLessThan(0.75 * a.peak);
});

test('shared dy (addSameShape returns dy twice, one input used twice), explicit dy, nested grads: same as tfjs', () => {
  const run = () => {
    const x = tf.tensor4d([1, -2, 3, 0.5, 2, -1, 0.25, 4], [1, 2, 2, 2]);
    const w = tf.tensor4d([0.5, -1, 2, 0.1, 0.3, -0.7, 1.5, 2], [1, 2, 2, 2]);
    const dy = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    const f = (a: tf.Tensor, c: tf.Tensor) => {
      const h = tf.relu(tf.mul(a, c)) as tf.Tensor4D;
      const s = addSameShape(h, h); // both inputs the same tensor: its gradient accumulates dy + dy
      return tf.mul(addSameShape(s, tf.sin(h) as tf.Tensor4D), a);
    };
    const before = tf.memory().numTensors;
    const g1 = tf.grads(f)([x, w], dy);
    // a gradient taken inside a custom gradient while the outer backward runs (nn/checkpoint.ts), w through `vars`
    const g2 = tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(checkpoint((z) => tf.mul(tf.square(z), tf.sin(c)), [a], [c]), a)))([x, w]);
    const vals = [...g1, ...g2].map((t) => Array.from(t.dataSync()));
    tf.dispose([...g1, ...g2]);
    expect(tf.memory().numTensors).toBe(before);
    expect(dy.isDisposed).toBe(false);
    tf.dispose([x, w, dy]);
    return vals;
  };
  uninstallLeanBackprop();
  const a = run();
  installLeanBackprop();
  const b = run();
  expect(b).toEqual(a);
});

test('saved tensors are cloned without an Identity kernel per save: same gradients, same tensors, no leaks', () => {
  const run = () => {
    const eng = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
    const orig = eng.runKernel;
    let identities = 0;
    eng.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
      if (name === 'Identity') identities++;
      return orig.call(this, name, ...rest);
    };
    try {
      const x = tf.tensor2d([0.5, -1, 2, 3, -0.25, 1.5], [2, 3]);
      const before = tf.memory().numTensors;
      // exp saves its output, mul both inputs, sin its input: five saves
      const [g] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.exp(a), tf.sin(a))))([x]);
      const vals = Array.from(g.dataSync());
      g.dispose();
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      return { vals, identities };
    } finally {
      eng.runKernel = orig;
    }
  };
  uninstallLeanBackprop();
  const a = run();
  installLeanBackprop();
  const b = run();
  expect(b.vals).toEqual(a.vals);
  expect(a.identities).toBeGreaterThanOrEqual(4); // tfjs: one Identity kernel per saved tensor
  expect(b.identities).toBe(0);
});
