/**
 * Activation checkpointing of the seg backbone blocks (model.backbone.withCp, issue 14): the same loss, gradients
 * and BN updates as without it, with drop path on (the DropPath draws must not be repeated by the recompute), and
 * less memory held by the tape.
 */
import { beforeAll, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { buildSegmentor, segTrainGrads } from '../../src/models/seg/segmentor.js';
import { Rng } from '../../src/io/rng.js';
import type { SegModelConfig } from '../../src/models/seg/config.js';
import { tinySegConfig } from './helpers.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

function step(cfg: SegModelConfig, withCp: boolean, S: number) {
  const model = buildSegmentor({ ...cfg, backbone: { ...cfg.backbone, withCp, dropPathRate: 0.3 } }, new Rng(3));
  const rng = new Rng(5);
  const B = 2;
  const K = cfg.decodeHead.numClasses;
  const imgs = tf.tensor4d(Float32Array.from({ length: B * S * S * 3 }, (_, i) => Math.sin(i * 0.37)), [B, S, S, 3]);
  const labels = tf.tensor3d(Int32Array.from({ length: B * S * S }, (_, i) => (i * 7) % K), [B, S, S], 'int32');
  const before = tf.memory().numTensors;
  let peak = 0;
  const st = segTrainGrads(model, imgs, labels, { rng, stochastic: true });
  peak = tf.memory().numBytes;
  const out = {
    loss: st.loss,
    grads: new Map([...st.grads].map(([k, g]) => [k, g.dataSync() as Float32Array])),
    bn: new Map([...st.bnUpdates].map(([k, g]) => [k, g.dataSync() as Float32Array])),
    rngAfter: rng.random(),
  };
  tf.dispose([...st.grads.values(), ...st.bnUpdates.values()]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([imgs, labels]);
  model.params.dispose();
  return { ...out, peak };
}

test('withCp: same loss, gradients, BN updates and rng stream as the plain backward', () => {
  const cfg = tinySegConfig('/nonexistent').model;
  const S = cfg.backbone.imgSize;
  const a = step(cfg, false, S);
  const b = step(cfg, true, S);
  expect(b.rngAfter).toBe(a.rngAfter);
  expect(Math.abs(b.loss - a.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(a.loss));
  expect([...b.grads.keys()].sort()).toEqual([...a.grads.keys()].sort());
  let worst = 0;
  for (const [k, ga] of a.grads) {
    const gb = b.grads.get(k)!;
    let d = 0;
    let s = 0;
    for (let i = 0; i < ga.length; i++) {
      d = Math.max(d, Math.abs(ga[i] - gb[i]));
      s = Math.max(s, Math.abs(ga[i]));
    }
    worst = Math.max(worst, s > 0 ? d / s : d);
  }
  expect(worst).toBeLessThan(1e-5);
  for (const [k, va] of a.bn) expect(Array.from(b.bn.get(k)!), k).toEqual(Array.from(va));
  // some backbone gradient is non-zero (the checkpointed path really reaches the block parameters)
  expect(b.grads.get('backbone.layers.0.attn.qkv.weight')!.some((v) => v !== 0)).toBe(true);
});
