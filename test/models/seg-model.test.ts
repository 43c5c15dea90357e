/** Seg model behaviour outside the golden fixture: stochastic train step, memory, init, failure messages. */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { Rng } from '../../src/io/rng.js';
import { applyBnUpdates } from '../../src/nn/conv.js';
import type { SegModelConfig } from '../../src/models/seg/config.js';
import { buildSegmentor, segEncodeDecode, segTrainGrads } from '../../src/models/seg/segmentor.js';
import { dropPathRates } from '../../src/models/seg/mae-backbone.js';
import { segConfigFromFixture } from './seg-fixture.js';
import { loadFixture } from '../helpers/golden.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

const cfg: SegModelConfig = segConfigFromFixture(loadFixture('seg-upernet').config);
const S = cfg.backbone.imgSize;

function batch(seed: number) {
  const imgs = tf.randomNormal([2, S, S, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
  const lab = new Int32Array(2 * S * S);
  const rng = new Rng(seed);
  for (let i = 0; i < lab.length; i++) lab[i] = rng.random() < 0.1 ? cfg.ignoreIndex : rng.int(cfg.decodeHead.numClasses);
  return { imgs, labels: tf.tensor3d(lab, [2, S, S], 'int32') };
}

describe('seg model', () => {
  test('stochastic train step + BN update leaves numTensors unchanged; dropout/drop path change the loss', () => {
    const model = buildSegmentor({ ...cfg, backbone: { ...cfg.backbone, dropPathRate: 0.5 } }, new Rng(3));
    const { imgs, labels } = batch(1);
    const losses: number[] = [];
    for (let it = 0; it < 3; it++) {
      const before = tf.memory().numTensors;
      const step = segTrainGrads(model, imgs, labels, { rng: new Rng(100 + it), stochastic: true });
      expect(step.grads.size).toBe(model.params.trainableNames().length);
      for (const g of step.grads.values()) expect(tf.tidy(() => Number.isFinite(tf.sum(g).dataSync()[0]))).toBe(true);
      tf.dispose([...step.grads.values()]);
      applyBnUpdates(model.params, step.bnUpdates);
      expect(tf.memory().numTensors).toBe(before);
      losses.push(step.loss);
      expect(step.loss).toBeCloseTo(step.decodeLoss + step.auxLoss!, 5);
    }
    expect(new Set(losses).size).toBe(3);
    // same rng stream -> same loss (BN stats do not affect the train-mode forward)
    const a = segTrainGrads(model, imgs, labels, { rng: new Rng(7), stochastic: true });
    const b = segTrainGrads(model, imgs, labels, { rng: new Rng(7), stochastic: true });
    expect(a.loss).toBe(b.loss);
    for (const s of [a, b]) {
      tf.dispose([...s.grads.values()]);
      tf.dispose([...s.bnUpdates.values()]);
    }
    expect(Number(model.params.get('decode_head.bottleneck.bn.num_batches_tracked').dataSync()[0])).toBe(3);
    tf.dispose([imgs, labels]);
    model.params.dispose();
  });

  test('fresh init follows mmseg: zero pos_embed and rel tables, gammas = initValues, conv_seg std 0.01, BN 1/0/0/1', () => {
    const model = buildSegmentor(cfg, new Rng(0));
    const p = model.params;
    const all = (n: string) => Array.from(p.get(n).dataSync());
    expect(all('backbone.pos_embed').every((v) => v === 0)).toBe(true);
    expect(all('backbone.layers.0.attn.relative_position_bias_table').every((v) => v === 0)).toBe(true);
    expect(all('backbone.layers.0.gamma_1').every((v) => v === Math.fround(cfg.backbone.initValues))).toBe(true);
    expect(all('decode_head.bottleneck.bn.running_var').every((v) => v === 1)).toBe(true);
    expect(p.entries.get('backbone.layers.0.attn.relative_position_index')!.trainable).toBe(false);
    expect(p.entries.get('decode_head.bottleneck.bn.running_mean')!.trainable).toBe(false);
    const w = all('decode_head.conv_seg.weight');
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.005);
    expect(std).toBeLessThan(0.02);
    // mmseg MAE: [x.item() for x in torch.linspace(0, 0.1, 5)] (float32), printed by PyTorch 1.13
    expect(dropPathRates(0.1, 5)).toEqual([0.0, 0.02500000037252903, 0.05000000074505806, 0.07500000298023224, 0.10000000149011612]);
    p.dispose();
  });

  test('fails loudly: wrong input size, out-of-range label, bad config', () => {
    const model = buildSegmentor(cfg, new Rng(0));
    const wrong = tf.zeros([1, S + 8, S, 3]) as tf.Tensor4D;
    expect(() => segEncodeDecode(model, wrong)).toThrow(/fixed to/);
    const { imgs } = batch(2);
    const bad = tf.fill([2, S, S], cfg.decodeHead.numClasses, 'int32') as tf.Tensor3D;
    const before = tf.memory().numTensors;
    expect(() => segTrainGrads(model, imgs, bad, { rng: null, stochastic: false })).toThrow(/not a class/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => buildSegmentor({ ...cfg, neck: { rescales: [4, 2, 1, 1] } }, new Rng(0))).toThrow(/neck.rescales/);
    tf.dispose([wrong, imgs, bad]);
    model.params.dispose();
  });
});
