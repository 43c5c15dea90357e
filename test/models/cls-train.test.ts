/** Classifier train-mode behaviour: drop path, ClsBatchNormNeck batch statistics, gradients, no leaks. */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { Rng } from '../../src/io/rng.js';
import { applyBnUpdate, buildClassifier, clsForward, type ClsModelConfig } from '../../src/models/cls/classifier.js';
import { applyDropPath, dropPath } from '../../src/nn/layers.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

const base: ClsModelConfig = {
  mode: 'finetune',
  arch: { embedDims: 12, numLayers: 3, numHeads: 3, feedforwardChannels: 24 },
  imgSize: 8,
  patchSize: 4,
  numClasses: 4,
};

/** A fake Rng returning the given uniforms in order. */
function seq(values: number[]): Rng {
  let i = 0;
  return { random: () => values[i++] } as unknown as Rng;
}

function randomImgs(B: number, S: number, seed: number): tf.Tensor4D {
  const r = new Rng(seed);
  const d = new Float32Array(B * S * S * 3).map(() => r.normal());
  return tf.tensor4d(d, [B, S, S, 3]);
}

describe('dropPath (mmcv)', () => {
  test('mask = floor(keep + u) per sample, kept samples scaled by 1/keep', () => {
    const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [4, 1, 2]);
    // keep 0.5: u = 0.1 -> 0, 0.6 -> 1, 0.49 -> 0, 0.5 -> 1
    const y = dropPath(x, 0.5, seq([0.1, 0.6, 0.49, 0.5]));
    expect(Array.from(y.dataSync())).toEqual([0, 0, 6, 8, 0, 0, 14, 16]);
    expect(dropPath(x, 0, seq([]))).toBe(x);
    tf.dispose([x, y]);
  });

  test('one division gives the bits of mmcv\'s x.div(keep) * mask, values and gradient (signed zeros, NaN, Inf)', () => {
    const v = [1.7, -2.3, 0, -0, NaN, Infinity, -Infinity, 3.1e-39, 12345.678, -0.1, 7, -7];
    const x = tf.tensor3d(v, [4, 1, 3]);
    const up = tf.tensor3d(v.map((t, i) => (i % 3 === 0 ? -0.3 : 1.9)), [4, 1, 3]);
    const d = { keep: 0.9, mask: Float32Array.of(1, 0, 1, 0) };
    const twoOps = (t: tf.Tensor) => tf.mul(tf.div(t, d.keep), tf.tensor(d.mask, [4, 1, 1]));
    const [a, b, ga, gb] = tf.tidy(() => [
      applyDropPath(x, d), twoOps(x),
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(applyDropPath(t, d), up)))(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(twoOps(t), up)))(x),
    ].map((t) => Array.from(t.dataSync())));
    a.forEach((t, i) => expect(Object.is(t, b[i]), `value [${i}]: ${t} vs ${b[i]}`).toBe(true));
    ga.forEach((t, i) => expect(Object.is(t, gb[i]), `gradient [${i}]: ${t} vs ${gb[i]}`).toBe(true));
    tf.dispose([x, up]);
  });

  test('rates follow linspace(0, rate, depth)', () => {
    const m = buildClassifier({ ...base, dropPathRate: 0.1 }, new Rng(0));
    expect(m.dpr).toEqual([0, 0.05, 0.1]);
    expect(buildClassifier({ ...base }, new Rng(0)).dpr[2]).toBe(0.1); // the benchmark default
  });
});

describe('finetune train mode', () => {
  test('drop path 0 equals eval; with drop path the rng decides; gradient for every parameter, no leak', () => {
    const imgs = randomImgs(3, 8, 1);
    const m0 = buildClassifier({ ...base, dropPathRate: 0 }, new Rng(0));
    const a = tf.tidy(() => clsForward(m0, imgs, { train: true }).logits);
    const b = tf.tidy(() => clsForward(m0, imgs, { train: false }).logits);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));

    // rate 0.9 on the last block: with all-drop uniforms (u = 0) block 1/2 branches vanish for every sample,
    // which must equal a model whose blocks 1..2 are skipped entirely (identity).
    const m = buildClassifier({ ...base, dropPathRate: 0.9 }, new Rng(0));
    expect(() => clsForward(m, imgs, { train: true })).toThrow(/rng/);
    const dropAll = tf.tidy(() => clsForward(m, imgs, { train: true, rng: seq(new Array(12).fill(0)) }).features);
    const oneBlock = buildClassifier({ ...base, arch: { ...(base.arch as object), numLayers: 1 } as ClsModelConfig['arch'] }, new Rng(0));
    for (const n of oneBlock.params.names()) oneBlock.params.get(n).assign(m.params.get(n));
    const ref = tf.tidy(() => clsForward(oneBlock, imgs, { train: false }).features);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(dropAll, ref))).dataSync()[0]);
    expect(diff).toBeLessThan(1e-5);

    const before = tf.memory().numTensors;
    const vars = m.params.trainableVars();
    const { value, grads } = tf.variableGrads(() => {
      const { logits } = clsForward(m, imgs, { train: true, rng: new Rng(3) });
      return tf.mean(tf.square(logits)) as tf.Scalar;
    }, vars);
    expect(Object.keys(grads).length).toBe(vars.length);
    for (const v of vars) expect(grads[v.name], v.name).toBeDefined();
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([imgs, a, b, dropAll, ref]);
    for (const x of [m0, m, oneBlock]) x.params.dispose();
  });
});

describe('linear probe train mode (ClsBatchNormNeck)', () => {
  test('batch statistics, running-stat update (momentum 0.1, unbiased var), head-only gradients', () => {
    const m = buildClassifier({ ...base, mode: 'linear' }, new Rng(0));
    const B = 4;
    const D = 12;
    const imgs = randomImgs(B, 8, 2);
    m.params.get('neck.bn.running_mean').assign(tf.fill([D], 0.5));
    m.params.get('neck.bn.running_var').assign(tf.fill([D], 2));

    const out = tf.tidy(() => {
      const o = clsForward(m, imgs, { train: true });
      return { features: o.features, neckOut: o.neckOut!, logits: o.logits, u: o.bnUpdate! };
    });
    const f = out.features.dataSync();
    const n = out.neckOut.dataSync();
    const rm = out.u.runningMean.dataSync();
    const rv = out.u.runningVar.dataSync();
    for (let d = 0; d < D; d++) {
      let mean = 0;
      for (let b = 0; b < B; b++) mean += f[b * D + d] / B;
      let ss = 0;
      for (let b = 0; b < B; b++) ss += (f[b * D + d] - mean) ** 2;
      for (let b = 0; b < B; b++) expect(n[b * D + d]).toBeCloseTo((f[b * D + d] - mean) / Math.sqrt(ss / B + 1e-6), 4);
      expect(rm[d]).toBeCloseTo(0.9 * 0.5 + 0.1 * mean, 5);
      expect(rv[d]).toBeCloseTo(0.9 * 2 + 0.1 * (ss / (B - 1)), 5);
    }
    applyBnUpdate(m, out.u);
    expect(m.params.get('neck.bn.num_batches_tracked').dataSync()[0]).toBe(1);
    expect(m.params.get('neck.bn.running_mean').dataSync()[0]).toBeCloseTo(rm[0], 6);
    expect(() => clsForward(m, tf.slice(imgs, 0, 1), { train: true })).toThrow(/more than 1 sample/);

    const before = tf.memory().numTensors;
    const vars = m.params.trainableVars();
    expect(vars.length).toBe(2);
    const { value, grads } = tf.variableGrads(() => {
      const o = clsForward(m, imgs, { train: true });
      applyBnUpdate(m, o.bnUpdate!);
      return tf.mean(tf.square(o.logits)) as tf.Scalar;
    }, vars);
    expect(Object.keys(grads).sort()).toEqual(vars.map((v) => v.name).sort());
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    expect(m.params.get('neck.bn.num_batches_tracked').dataSync()[0]).toBe(2);
    tf.dispose([imgs, out.features, out.neckOut, out.logits]);
    m.params.dispose();
  });
});
