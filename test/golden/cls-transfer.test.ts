/** Golden parity with mmpretrain's transfer classifiers (../shared/fixtures/golden/cls-{finetune,linear}). */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.js';
import { loadCheckpoint } from '../../src/engine/checkpoint.js';
import { Rng } from '../../src/engine/rng.js';
import { buildClassifier, clsForward, loadClassifierState, type ClsModelConfig } from '../../src/models/classifier.js';
import { f32, goldenPath, loadFixture, nchwToNhwc, relErr } from '../helpers/golden.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

/** Model config read from the fixture's `config` (never constants). */
function modelConfig(c: Record<string, any>): ClsModelConfig {
  return {
    mode: c.out_type === 'avg_featmap' ? 'finetune' : 'linear',
    arch: { embedDims: c.embed_dims, numLayers: c.num_layers, numHeads: c.num_heads, feedforwardChannels: c.feedforward_channels },
    imgSize: c.img_size,
    patchSize: c.patch_size,
    inChannels: c.in_channels,
    numClasses: c.num_classes,
    dropPathRate: c.drop_path_rate ?? 0,
    lnEps: c.ln_eps,
    bnEps: c.neck_bn?.eps,
  };
}

for (const name of ['cls-finetune', 'cls-linear']) {
  describe(name, () => {
    const fx = loadFixture(name);
    const model = buildClassifier(modelConfig(fx.config), new Rng(0));
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
        // The fixture's `cls_token` is ImageClassifier.extract_feat(), whose default stage is 'neck': it is the
        // ClsBatchNormNeck output, and its `neck_out` is that BN applied a second time. `logits` is the true
        // end-to-end output (head(neck(cls))), which fixes the semantics. Checked independently in numpy.
        const rm = ckpt.tensors.get('neck.bn.running_mean')!.data;
        const rv = ckpt.tensors.get('neck.bn.running_var')!.data;
        const eps = fx.config.neck_bn.eps;
        const D = fx.config.embed_dims;
        const neckOut = out.neckOut!.dataSync();
        expect(relErr(neckOut, f32(fx.expected.cls_token))).toBeLessThan(1e-4);
        // backbone cls token = BN^-1(extract_feat output)
        const cls = f32(fx.expected.cls_token).map((v, i) => v * Math.sqrt(rv[i % D] + eps) + rm[i % D]);
        expect(relErr(features, cls)).toBeLessThan(1e-4);
        // and the fixture's neck_out = BN(extract_feat output) with the running stats
        const twice = neckOut.map((v, i) => (v - rm[i % D]) / Math.sqrt(rv[i % D] + eps));
        expect(relErr(twice, f32(fx.expected.neck_out))).toBeLessThan(1e-4);
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
