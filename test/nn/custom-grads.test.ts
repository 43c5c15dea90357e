/**
 * The memory-saving custom-gradient ops of the segmentation model (issue 14) against tfjs's own autodiff of the
 * plain composed formulas (an independent derivation): ConvTranspose2d (k = stride), train-mode BatchNorm (+ ReLU),
 * the fpn_bottleneck sum of per-part convs over resized parts, and the same-shape add. Values, gradients for every
 * input and parameter, BN running statistics; no leaked tensors.
 */
import { beforeAll, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { ParamStore } from '../../src/nn/params.js';
import { Rng } from '../../src/io/rng.js';
import { addBatchNorm, addConv, addConvTranspose, addSameShape, bnCtx, convModule, convModuleConcat, convTranspose2d } from '../../src/nn/conv.js';
import { resizeBilinear } from '../../src/nn/resize.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

const rnd = (rng: Rng, shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * rng.random() - 1), shape);

function rel(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let d = 0;
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    d = Math.max(d, Math.abs(x[i] - y[i]));
    s = Math.max(s, Math.abs(y[i]));
  }
  return d / (s || 1);
}

/** value and gradients of sum(f() · probe) w.r.t. `vars`, with a fixed random probe as the upstream gradient. */
function vg(f: () => tf.Tensor, vars: tf.Variable[], probe: tf.Tensor) {
  return tf.variableGrads(() => tf.sum(tf.mul(f(), probe)) as tf.Scalar, vars);
}

function perturb(p: ParamStore, rng: Rng): void {
  for (const n of p.names()) {
    const v = p.get(n);
    if (v.dtype === 'float32') v.assign(tf.tidy(() => tf.add(v, tf.mul(rnd(rng, v.shape), 0.3))));
  }
}

test('ConvTranspose2d (k = stride = 2, with bias) = the composed matmul/reshape/transpose/add', () => {
  const rng = new Rng(1);
  const p = new ParamStore();
  addConvTranspose(p, rng, 'up', 5, 3, 2);
  perturb(p, rng);
  const x = tf.variable(rnd(rng, [2, 3, 4, 5]));
  const probe = rnd(rng, [2, 6, 8, 3]);
  const before = tf.memory().numTensors;
  const composed = () => {
    const w = p.get('up.weight'); // [kh, kw, Cout, Cin]
    const wm = tf.reshape(tf.transpose(w, [3, 0, 1, 2]), [5, 2 * 2 * 3]);
    const y = tf.reshape(tf.matMul(tf.reshape(x, [2 * 3 * 4, 5]), wm), [2, 3, 4, 2, 2, 3]);
    return tf.add(tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4, 5]), [2, 6, 8, 3]), p.get('up.bias'));
  };
  const vars = [x, p.get('up.weight'), p.get('up.bias')];
  const a = vg(() => convTranspose2d(p, 'up', x as unknown as tf.Tensor4D), vars, probe);
  const b = vg(composed, vars, probe);
  expect(rel(a.value, b.value)).toBeLessThan(1e-6);
  for (const v of vars) expect(rel(a.grads[v.name], b.grads[v.name]), v.name).toBeLessThan(1e-5);
  tf.dispose([a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads)]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, probe]);
  p.dispose();
});

for (const relu of [true, false]) {
  test(`train BatchNorm${relu ? ' + ReLU (ConvModule)' : ''} = the composed moments formula; running stats as PyTorch`, () => {
    const rng = new Rng(2);
    const p = new ParamStore();
    addConv(p, rng, 'm.conv', 4, 6, 3, false);
    addBatchNorm(p, 'm.bn', 6);
    perturb(p, rng);
    const x = tf.variable(rnd(rng, [2, 5, 5, 4]));
    const probe = rnd(rng, [2, 5, 5, 6]);
    const eps = 1e-5;
    const mom = 0.1;
    const composed = () => {
      const c = tf.conv2d(x as unknown as tf.Tensor4D, p.get('m.conv.weight') as tf.Tensor4D, 1, 1);
      const { mean, variance } = tf.moments(c, [0, 1, 2]);
      const y = tf.add(tf.mul(tf.div(tf.sub(c, mean), tf.sqrt(tf.add(variance, eps))), p.get('m.bn.weight')), p.get('m.bn.bias'));
      return relu ? tf.relu(y) : y;
    };
    const ctx = bnCtx(true, { eps, momentum: mom });
    const vars = [x, p.get('m.conv.weight'), p.get('m.bn.weight'), p.get('m.bn.bias')];
    const a = vg(() => convModule(p, 'm', x as unknown as tf.Tensor4D, ctx, { padding: 1, act: relu }), vars, probe);
    const b = vg(composed, vars, probe);
    expect(rel(a.value, b.value)).toBeLessThan(1e-5);
    for (const v of vars) expect(rel(a.grads[v.name], b.grads[v.name]), v.name).toBeLessThan(1e-4);
    // running stats: (1 − m)·running + m·batch stat, unbiased variance (n / (n − 1))
    const c = tf.conv2d(x as unknown as tf.Tensor4D, p.get('m.conv.weight') as tf.Tensor4D, 1, 1);
    const { mean, variance } = tf.moments(c, [0, 1, 2]);
    const n = 2 * 5 * 5;
    const wantRm = tf.add(tf.mul(p.get('m.bn.running_mean'), 1 - mom), tf.mul(mean, mom));
    const wantRv = tf.add(tf.mul(p.get('m.bn.running_var'), 1 - mom), tf.mul(tf.mul(variance, n / (n - 1)), mom));
    expect(rel(ctx.updates.get('m.bn.running_mean')!, wantRm)).toBeLessThan(1e-5);
    expect(rel(ctx.updates.get('m.bn.running_var')!, wantRv)).toBeLessThan(1e-5);
    expect(Array.from(ctx.updates.get('m.bn.num_batches_tracked')!.dataSync())).toEqual([1]);
    tf.dispose([a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads), c, mean, variance, wantRm, wantRv, ...ctx.updates.values()]);
    tf.dispose([x, probe]);
    p.dispose();
  });
}

test('fpn_bottleneck: Σ per-part convs over checkpointed resizes = ConvModule(concat(resized parts))', () => {
  const rng = new Rng(3);
  const p = new ParamStore();
  const C = 3;
  addConv(p, rng, 'fb.conv', 4 * C, 5, 3, false);
  addBatchNorm(p, 'fb.bn', 5);
  perturb(p, rng);
  const sizes = [8, 4, 2, 1];
  const parts = sizes.map((s) => tf.variable(rnd(rng, [2, s, s, C])));
  const probe = rnd(rng, [2, 8, 8, 5]);
  const vars = [...parts, p.get('fb.conv.weight'), p.get('fb.bn.weight'), p.get('fb.bn.bias')];
  const before = tf.memory().numTensors;
  const ctxA = bnCtx(true);
  const ctxB = bnCtx(true);
  const a = vg(() => convModuleConcat(p, 'fb', parts as unknown as tf.Tensor4D[], [8, 8], ctxA, { padding: 1 }), vars, probe);
  const b = vg(() => convModule(p, 'fb', tf.concat(parts.map((x) => resizeBilinear(x as unknown as tf.Tensor4D, [8, 8])), 3) as tf.Tensor4D, ctxB, { padding: 1 }), vars, probe);
  expect(rel(a.value, b.value)).toBeLessThan(1e-5);
  for (const v of vars) expect(rel(a.grads[v.name], b.grads[v.name]), v.name).toBeLessThan(1e-4);
  for (const [k, t] of ctxB.updates) expect(rel(ctxA.updates.get(k)!, t), k).toBeLessThan(1e-5);
  tf.dispose([a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads), ...ctxA.updates.values(), ...ctxB.updates.values()]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([...parts, probe]);
  p.dispose();
});

test('addSameShape: a + b, gradient dy to both; refuses broadcasting', () => {
  const rng = new Rng(4);
  const a = tf.variable(rnd(rng, [2, 3, 3, 2]));
  const b = tf.variable(rnd(rng, [2, 3, 3, 2]));
  const probe = rnd(rng, [2, 3, 3, 2]);
  const r = vg(() => addSameShape(a as unknown as tf.Tensor4D, b as unknown as tf.Tensor4D), [a, b], probe);
  const want = tf.add(a, b);
  expect(rel(r.value, tf.sum(tf.mul(want, probe)))).toBe(0);
  expect(rel(r.grads[a.name], probe)).toBe(0);
  expect(rel(r.grads[b.name], probe)).toBe(0);
  expect(() => addSameShape(a as unknown as tf.Tensor4D, tf.zeros([1, 3, 3, 2]) as tf.Tensor4D)).toThrow(/addSameShape/);
  tf.dispose([a, b, probe, want, r.value, ...Object.values(r.grads)]);
});
