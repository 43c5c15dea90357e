/** Golden parity with mmpretrain's MFF and MAE pretraining (../shared/fixtures/golden/{mff,mae}-pretrain). */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { buildPretrainModel, pretrainForward, randomMasking } from '../../src/models/mae.js';
import { Rng } from '../../src/io/rng.js';
import { f32, goldenPath, i32, loadFixture, nchwToNhwc, pretrainModelConfig, relErr } from '../helpers/golden.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

for (const name of ['mff-pretrain', 'mae-pretrain']) {
  describe(name, () => {
    const fx = loadFixture(name);
    const cfg = pretrainModelConfig(fx.config);
    const model = buildPretrainModel(cfg, new Rng(0));
    const report = model.params.load(loadCheckpoint(goldenPath(fx.weights!)).tensors, { strict: true, file: fx.weights });
    const [B, L] = fx.inputs.noise.shape;
    const mk = randomMasking(f32(fx.inputs.noise), B, L, fx.config.len_keep);

    test('loads every key strictly, in state_dict order', () => {
      expect(report.missing).toEqual([]);
      expect(report.unexpected).toEqual([]);
      const file = loadCheckpoint(goldenPath(fx.weights!));
      expect(model.params.names()).toEqual([...file.tensors.keys()]);
    });

    test('masking from noise: ids_restore and mask', () => {
      expect(Array.from(mk.idsRestore)).toEqual(Array.from(i32(fx.expected.ids_restore)));
      expect(Array.from(mk.mask)).toEqual(Array.from(f32(fx.expected.mask)));
      expect(model.lenKeep).toBe(fx.config.len_keep);
    });

    test('latent, target, pred, loss, fusion weights', () => {
      const img = nchwToNhwc(fx.inputs.img);
      const out = tf.tidy(() => {
        const o = pretrainForward(model, img, mk);
        return { latent: o.latent.dataSync().slice(), target: o.target.dataSync().slice(), pred: o.pred.dataSync().slice(), loss: o.loss.dataSync()[0], fw: o.fusionWeights?.dataSync().slice() };
      });
      img.dispose();
      expect(relErr(out.latent, f32(fx.expected.latent))).toBeLessThan(1e-4);
      expect(relErr(out.target, f32(fx.expected.target))).toBeLessThan(1e-4);
      expect(relErr(out.pred, f32(fx.expected.pred))).toBeLessThan(1e-4);
      expect(Math.abs(out.loss - fx.expected.loss) / Math.abs(fx.expected.loss)).toBeLessThan(1e-4);
      expect(Math.abs(out.loss - fx.expected.parsed_total_loss) / Math.abs(fx.expected.parsed_total_loss)).toBeLessThan(1e-4);
      if (fx.expected.fusion_weights) {
        expect(relErr(out.fw!, f32(fx.expected.fusion_weights))).toBeLessThan(1e-4);
        fx.expected.fusion_weights.data.forEach((w: number, i: number) => {
          expect(Math.abs(out.fw![i] - fx.expected.algorithm_losses[`weight_${i}`])).toBeLessThan(1e-6);
        });
      } else {
        expect(out.fw).toBeUndefined();
      }
    });

    test('gradients of the listed parameters (PyTorch layout)', () => {
      const img = nchwToNhwc(fx.inputs.img);
      const names = Object.keys(fx.expected.grads);
      const vars = names.map((n) => model.params.get(n));
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => pretrainForward(model, img, mk).loss, vars);
      for (const n of names) {
        const v = model.params.get(n);
        const g = grads[v.name];
        // internal layout -> PyTorch layout via the same converter checkpoints use
        const entry = model.params.entries.get(n)!;
        const perm = entry.layout === 'linear' ? [1, 0] : entry.layout === 'conv' ? [3, 2, 0, 1] : null;
        const gt = perm ? tf.transpose(g, perm) : g;
        expect(gt.shape).toEqual(fx.expected.grads[n].shape);
        expect(relErr(gt.dataSync(), f32(fx.expected.grads[n])), n).toBeLessThan(1e-4);
        if (perm) gt.dispose();
      }
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      img.dispose();
    });
  });
}
