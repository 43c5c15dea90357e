/** Golden parity with mmseg's MAE + Feature2Pyramid + UPerHead + FCN aux (../shared/fixtures/golden/seg-upernet). */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { Rng } from '../../src/io/rng.js';
import { applyBnUpdates, bnCtx } from '../../src/nn/conv.js';
import { segConfigFromFixture } from '../models/seg-fixture.js';
import { buildSegmentor, segDecodeHeadOut, segEncodeDecode, segFeatures, segPredictor, segTrainGrads } from '../../src/models/seg/segmentor.js';
import { maeBackbone, relativePositionIndex } from '../../src/models/seg/mae-backbone.js';
import { inferSegmentation, slideWindows } from '../../src/eval/slide.js';
import { f32, goldenPath, i32, loadFixture, nchwToNhwc, relErr, type JsonTensor } from '../helpers/golden.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

/** NCHW JSON [B, K, H, W] -> flat NHWC values, for comparing with our NHWC logits. */
function nhwcValues(t: JsonTensor): Float32Array {
  const x = nchwToNhwc(t);
  const v = x.dataSync().slice() as Float32Array;
  x.dispose();
  return v;
}

function readAndDispose(t: tf.Tensor): Float32Array {
  const v = t.dataSync().slice() as Float32Array;
  t.dispose();
  return v;
}

describe('seg-upernet', () => {
  const fx = loadFixture('seg-upernet');
  const cfg = segConfigFromFixture(fx.config);
  const model = buildSegmentor(cfg, new Rng(0));
  const file = loadCheckpoint(goldenPath(fx.weights!));
  const report = model.params.load(file.tensors, { strict: true, file: fx.weights });
  const E = fx.expected;

  test('builds every key in state_dict order, with PyTorch shapes; loads strictly', () => {
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(model.params.names()).toEqual([...file.tensors.keys()]);
    const fresh = buildSegmentor(cfg, new Rng(1)).params.toStateDict();
    for (const [k, t] of file.tensors) {
      expect(fresh.get(k)!.shape, k).toEqual(t.shape);
      expect(fresh.get(k)!.dtype, k).toEqual(t.dtype);
    }
  });

  test('relative_position_index built as BEiT does equals the stored buffer', () => {
    const [wh, ww] = fx.config.window_size;
    const idx = relativePositionIndex(wh, ww);
    expect(Array.from(idx)).toEqual(Array.from(file.tensors.get('backbone.layers.0.attn.relative_position_index')!.data));
    expect(Math.max(...idx) + 1).toBe(fx.config.num_relative_distance);
  });

  test('debug: backbone and Feature2Pyramid outputs', () => {
    const img = nchwToNhwc(fx.inputs.img);
    const stats = tf.tidy(() => {
      const outs = maeBackbone(model.params, cfg.backbone, img);
      const levels = segFeatures(model, img, bnCtx(false, { eps: cfg.bnEps }));
      // NHWC -> NCHW to compare "first" values
      const s = (t: tf.Tensor4D) => {
        const v = tf.transpose(t, [0, 3, 1, 2]).dataSync();
        let sum = 0;
        for (const x of v) sum += x;
        return { shape: [t.shape[0], t.shape[3], t.shape[1], t.shape[2]], mean: sum / v.length, first: Array.from(v.slice(0, 6)) };
      };
      return { b: outs.map(s), n: levels.map(s) };
    });
    img.dispose();
    const check = (got: typeof stats.b, want: any[]) =>
      want.forEach((w, i) => {
        expect(got[i].shape).toEqual(w.shape);
        expect(relErr(got[i].first, w.first)).toBeLessThan(1e-4);
        expect(Math.abs(got[i].mean - w.mean)).toBeLessThan(1e-4 * w.abs_max);
      });
    check(stats.b, E.debug.backbone_outs);
    check(stats.n, E.debug.neck_outs);
  });

  test('decode_head_out and encode_decode (eval, whole image)', () => {
    const img = nchwToNhwc(fx.inputs.img);
    const head = readAndDispose(segDecodeHeadOut(model, img));
    const ed = readAndDispose(segEncodeDecode(model, img));
    img.dispose();
    expect(relErr(head, nhwcValues(E.decode_head_out))).toBeLessThan(1e-4);
    expect(relErr(ed, nhwcValues(E.encode_decode))).toBeLessThan(1e-4);
  });

  test('slide inference: windows, averaged logits, final logits, prediction', () => {
    const img = nchwToNhwc(fx.inputs.slide_img);
    const [, H, W] = img.shape;
    const { crop_size, stride } = fx.config.test_cfg;
    expect(slideWindows(H, W, crop_size, stride)).toEqual(E.slide_windows);
    const before = tf.memory().numTensors;
    const r = inferSegmentation((x) => segEncodeDecode(model, x), img, fx.inputs.slide_ori_shape, { mode: 'slide', crop: crop_size, stride });
    expect(tf.memory().numTensors).toBe(before + 2);
    const seg = readAndDispose(r.segLogits);
    const fin = readAndDispose(r.logits);
    img.dispose();
    expect(relErr(seg, nhwcValues(E.slide_seg_logits))).toBeLessThan(1e-4);
    // slide_final_logits is [K, oh, ow]: add the batch axis
    const fl = E.slide_final_logits as JsonTensor;
    expect(relErr(fin, nhwcValues({ ...fl, shape: [1, ...fl.shape] }))).toBeLessThan(1e-4);
    expect(Array.from(r.pred)).toEqual(Array.from(i32(E.slide_pred)));
  });

  test('inference session (folded BN, cached relative biases): same encode_decode and slide result; cache disposed', () => {
    const before = tf.memory().numTensors;
    const pred = segPredictor(model);
    const img = nchwToNhwc(fx.inputs.img);
    const ed1 = readAndDispose(pred.encodeDecode(img));
    const afterFirst = tf.memory().numTensors;
    const ed2 = readAndDispose(pred.encodeDecode(img)); // second call reuses the cache: no new kept tensors
    expect(tf.memory().numTensors).toBe(afterFirst);
    img.dispose();
    expect(relErr(ed1, nhwcValues(E.encode_decode))).toBeLessThan(1e-4);
    expect(Array.from(ed2)).toEqual(Array.from(ed1));
    const simg = nchwToNhwc(fx.inputs.slide_img);
    const { crop_size, stride } = fx.config.test_cfg;
    const r = inferSegmentation(pred.encodeDecode, simg, fx.inputs.slide_ori_shape, { mode: 'slide', crop: crop_size, stride });
    simg.dispose();
    expect(relErr(readAndDispose(r.segLogits), nhwcValues(E.slide_seg_logits))).toBeLessThan(1e-4);
    readAndDispose(r.logits);
    expect(Array.from(r.pred)).toEqual(Array.from(i32(E.slide_pred)));
    pred.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('train step: losses, accuracies, gradients, BN running stats; no leaked tensors', () => {
    // A private copy of the model: the BN update must not disturb the eval tests above.
    const m = buildSegmentor(cfg, new Rng(0));
    m.params.load(file.tensors, { strict: true, file: fx.weights });
    const img = nchwToNhwc(fx.inputs.img);
    const lab = fx.inputs.train_labels as JsonTensor;
    const labels = tf.tensor3d(i32(lab), lab.shape as [number, number, number], 'int32');
    const T = E.train;
    const before = tf.memory().numTensors;
    const step = segTrainGrads(m, img, labels, { rng: null, stochastic: false });
    const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);
    expect(rel(step.decodeLoss, T['decode.loss_ce'])).toBeLessThan(1e-4);
    expect(rel(step.auxLoss!, T['aux.loss_ce'])).toBeLessThan(1e-4);
    expect(rel(step.loss, T.total_loss)).toBeLessThan(1e-4);
    expect(rel(step.decodeAcc, T['decode.acc_seg'])).toBeLessThan(1e-5);
    expect(rel(step.auxAcc!, T['aux.acc_seg'])).toBeLessThan(1e-5);
    for (const [name, want] of Object.entries(T.grads as Record<string, JsonTensor>)) {
      const g = step.grads.get(name)!;
      expect(g, name).toBeDefined();
      const e = m.params.entries.get(name)!;
      // internal layout -> PyTorch layout, like ParamStore.torchTensor
      const perm = e.layout === 'linear' ? [1, 0] : e.layout === 'conv' || e.layout === 'convT' ? [3, 2, 0, 1] : null;
      const gt = perm ? tf.transpose(g, perm) : g.clone();
      expect(gt.shape, name).toEqual(want.shape);
      expect(relErr(readAndDispose(gt), f32(want)), name).toBeLessThan(1e-4);
    }
    // every trainable parameter gets a gradient
    expect([...step.grads.keys()].sort()).toEqual(m.params.trainableNames().sort());
    tf.dispose([...step.grads.values()]);
    const nbt = (name: string) => m.params.get(name).dataSync()[0];
    const bnNames = [...new Set(Object.keys(T.bn_running_stats_after).map((k) => k.replace(/\.running_(mean|var)$/, '')))];
    const nbtBefore = bnNames.map((b) => nbt(`${b}.num_batches_tracked`));
    applyBnUpdates(m.params, step.bnUpdates);
    expect(tf.memory().numTensors).toBe(before);
    for (const [name, want] of Object.entries(T.bn_running_stats_after as Record<string, JsonTensor>)) {
      expect(relErr(m.params.get(name).dataSync(), f32(want)), name).toBeLessThan(1e-4);
    }
    bnNames.forEach((b, i) => expect(nbt(`${b}.num_batches_tracked`), b).toBe(nbtBefore[i] + 1));
    tf.dispose([img, labels]);
    m.params.dispose();
  });
});
