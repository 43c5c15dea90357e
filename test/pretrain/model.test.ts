/** Training-signal checks on the MFF/MAE model: every parameter gets a gradient; one AdamW step lowers the loss. */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { buildPretrainModel, drawNoise, pretrainForward, randomMasking, type PretrainModelConfig } from '../../src/models/mae.js';
import { Rng } from '../../src/io/rng.js';
import { createOptimizer } from '../../src/engine/optim.js';
import { pretrainParamGroups } from '../../src/engine/param-groups.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

const base: PretrainModelConfig = {
  algorithm: 'mff',
  arch: { embedDims: 32, numLayers: 4, numHeads: 2, feedforwardChannels: 64 },
  imgSize: 16,
  patchSize: 4,
  inChannels: 3,
  maskRatio: 0.75,
  outIndices: [0, 1, 3],
  decoder: { embedDims: 24, depth: 2, numHeads: 2 },
  normPix: true,
  lnEps: 1e-6,
};

for (const algorithm of ['mff', 'mae'] as const) {
  describe(algorithm, () => {
    test('every trainable parameter receives a non-zero gradient; frozen sin-cos tables none', () => {
      const rng = new Rng(1);
      const m = buildPretrainModel({ ...base, algorithm }, rng);
      const names = m.params.trainableNames();
      expect(names).not.toContain('backbone.pos_embed');
      expect(names).not.toContain('neck.decoder_pos_embed');
      expect(names.includes('backbone.proj_weights')).toBe(algorithm === 'mff');
      const imgs = tf.randomNormal([4, 16, 16, 3], 0, 1, 'float32', 3);
      const mk = randomMasking(drawNoise(rng, 4, m.numPatches), 4, m.numPatches, m.lenKeep);
      const vars = names.map((n) => m.params.get(n));
      const { value, grads } = tf.variableGrads(() => pretrainForward(m, imgs, mk).loss, vars);
      names.forEach((n, i) => {
        const g = grads[vars[i].name];
        expect(g, n).toBeDefined();
        const norm = tf.tidy(() => tf.norm(g).dataSync()[0]);
        expect(Number.isFinite(norm) && norm > 0, `${n}: |grad| = ${norm}`).toBe(true);
      });
      tf.dispose([value, imgs, ...Object.values(grads)]);
      m.params.dispose();
    });

    test('one AdamW step lowers the loss on the same batch and mask', () => {
      const rng = new Rng(2);
      const m = buildPretrainModel({ ...base, algorithm }, rng);
      const names = m.params.trainableNames();
      const vars = names.map((n) => m.params.get(n));
      const byVar = new Map(vars.map((v, i) => [v.name, names[i]]));
      const opt = createOptimizer({ type: 'AdamW', betas: [0.9, 0.95], eps: 1e-8 }, m.params, pretrainParamGroups(names, { weightDecay: 0.05 }));
      const imgs = tf.randomNormal([4, 16, 16, 3], 0, 1, 'float32', 4);
      const mk = randomMasking(drawNoise(rng, 4, m.numPatches), 4, m.numPatches, m.lenKeep);
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => pretrainForward(m, imgs, mk).loss, vars);
      const l0 = value.dataSync()[0];
      opt.step(new Map(Object.entries(grads).map(([k, g]) => [byVar.get(k)!, g])), 1e-3);
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      const l1 = tf.tidy(() => pretrainForward(m, imgs, mk).loss.dataSync()[0]);
      expect(l1).toBeLessThan(l0);
      imgs.dispose();
      opt.dispose();
      m.params.dispose();
    });
  });
}
