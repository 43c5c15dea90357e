/** Golden parity with mmpretrain's transfer classifiers (../shared/fixtures/golden/cls-{finetune,linear}). */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { Rng } from '../../src/io/rng.js';
import { buildClassifier, clsForward, loadClassifierState } from '../../src/models/cls/classifier.js';
import { f32, goldenPath, loadFixture, nchwToNhwc, relErr, clsModelConfig } from '../helpers/golden.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});


for (const name of ['cls-finetune', 'cls-linear']) {
  describe(name, () => {
    const fx = loadFixture(name);
    const model = buildClassifier(clsModelConfig(fx.config), new Rng(0));
    const ckpt = loadCheckpoint(goldenPath(fx.weights!));
    const report = loadClassifierState(model, ckpt.tensors, { file: fx.weights });

    test('loads every key strictly, in state_dict order', () => {
      expect(report.missing).toEqual([]);
      expect(report.unexpected).toEqual([]);
      expect(model.params.names()).toEqual([...ckpt.tensors.keys()]);
      // round trip: the exported state dict equals the file, dtype included
      const sd = model.params.toStateDict();
      for (const [k, t] of ckpt.tensors) {
        expect(sd.get(k)!.shape, k).toEqual(t.shape);
        expect(sd.get(k)!.dtype, k).toBe(t.dtype === 'I64' ? 'I64' : 'F32');
        expect(relErr(sd.get(k)!.data, t.data), k).toBe(0);
      }
    });

    test('eval forward matches the reference', () => {
      const img = nchwToNhwc(fx.inputs.img);
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => clsForward(model, img, { train: false }));
      expect(out.bnUpdate).toBeUndefined();
      const logits = out.logits.dataSync();
      const features = out.features.dataSync();
      expect(out.logits.shape).toEqual(fx.expected.logits.shape);
      expect(relErr(logits, f32(fx.expected.logits))).toBeLessThan(1e-4);
      if (fx.config.out_type === 'avg_featmap') {
        expect(relErr(features, f32(fx.expected.features))).toBeLessThan(1e-4);
        expect(out.neckOut).toBeUndefined();
      } else {
        // cls_token = token 0 of backbone.ln1(last block output) (VisionTransformer out_type 'cls_token', final_norm);
        // neck_out = ClsBatchNormNeck (BatchNorm1d affine=False, eps from the fixture) with the running stats, once;
        // logits = head.layers.head(neck_out).
        const B = fx.inputs.img.shape[0];
        const D = fx.config.embed_dims;
        expect(out.features.shape).toEqual([B, D]);
        expect(fx.expected.cls_token.shape).toEqual([B, D]);
        expect(fx.expected.neck_out.shape).toEqual([B, D]);
        expect(relErr(features, f32(fx.expected.cls_token))).toBeLessThan(1e-4);
        const neckOut = out.neckOut!.dataSync();
        expect(out.neckOut!.shape).toEqual([B, D]);
        expect(relErr(neckOut, f32(fx.expected.neck_out))).toBeLessThan(1e-4);
        // the fixture is self-consistent: BN(cls_token) with the stored running stats is neck_out (applied once) ...
        const rm = ckpt.tensors.get('neck.bn.running_mean')!.data;
        const rv = ckpt.tensors.get('neck.bn.running_var')!.data;
        const eps = fx.config.neck_bn.eps;
        const bn = f32(fx.expected.cls_token).map((v, i) => (v - rm[i % D]) / Math.sqrt(rv[i % D] + eps));
        expect(relErr(bn, f32(fx.expected.neck_out))).toBeLessThan(1e-4);
        // ... and head(neck_out) is logits
        const hw = ckpt.tensors.get('head.layers.head.weight')!; // [K, D], y = x·Wᵀ + b
        const hb = ckpt.tensors.get('head.layers.head.bias')!.data;
        const K = hw.shape[0];
        expect(hw.shape).toEqual([fx.config.num_classes, D]);
        const neckWant = f32(fx.expected.neck_out);
        const logitsFromNeck = new Float32Array(B * K);
        for (let b = 0; b < B; b++) {
          for (let k = 0; k < K; k++) {
            let acc = hb[k];
            for (let d = 0; d < D; d++) acc += neckWant[b * D + d] * hw.data[k * D + d];
            logitsFromNeck[b * K + k] = acc;
          }
        }
        expect(relErr(logitsFromNeck, f32(fx.expected.logits))).toBeLessThan(1e-4);
      }
      tf.dispose([out.logits, out.features, out.neckOut ?? []]);
      expect(tf.memory().numTensors).toBe(before);
      img.dispose();
    });

    test('trainable set: whole model (finetune) or only the head (linear)', () => {
      const trainable = model.params.trainableNames();
      if (fx.config.out_type === 'avg_featmap') {
        expect(trainable).toEqual(Object.keys(fx.expected.param_groups));
      } else {
        expect(trainable).toEqual(['head.layers.head.weight', 'head.layers.head.bias']);
      }
    });
  });
}
