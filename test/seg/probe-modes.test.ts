/** seg-train's backbone-probing modes: --frozen-backbone (frozenStages) and --head linear (the frozen-feature probe). */
import { beforeAll, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { Rng } from '../../src/io/rng.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { buildSegmentor, frozenBackboneNames, segDecodeHeadOut, segTaps, segTrainGrads } from '../../src/models/seg/segmentor.js';
import { finishSegConfig, type SegConfig } from '../../src/config/seg.js';
import type { SegModelConfig } from '../../src/models/seg/config.js';
import { runSegEval, runSegTrain } from '../../src/engine/run-seg.js';
import { segTrainCommand } from '../../src/commands/seg-train.js';
import { smallScenes, tinySegConfig } from './helpers.js';

let root: string;
beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
  root = smallScenes(8, 4);
});

function withModel(cfg: SegConfig, over: (m: SegModelConfig) => void): SegConfig {
  const c = structuredClone(cfg);
  over(c.model);
  return c;
}

/** A deterministic batch: images ~ N(0, 1), labels in [0, K) with some ignore pixels. */
function batch(cfg: SegConfig, B = 2): { imgs: tf.Tensor4D; labels: tf.Tensor3D } {
  const S = cfg.model.backbone.imgSize;
  const K = cfg.model.decodeHead.numClasses;
  const rng = new Rng(7);
  const x = new Float32Array(B * S * S * 3).map(() => rng.normal());
  const y = new Int32Array(B * S * S).map(() => (rng.random() < 0.1 ? cfg.model.ignoreIndex : rng.int(K)));
  return { imgs: tf.tensor4d(x, [B, S, S, 3]), labels: tf.tensor3d(y, [B, S, S], 'int32') };
}

describe('--frozen-backbone', () => {
  test('frozenStages follows mmpretrain: patch_embed, cls_token, pos_embed and the first N blocks', () => {
    const names = ['backbone.cls_token', 'backbone.pos_embed', 'backbone.patch_embed.projection.weight', 'backbone.layers.0.ln1.weight',
      'backbone.layers.1.attn.qkv.weight', 'backbone.layers.10.ln1.weight', 'neck.upsample_4x.0.weight', 'decode_head.conv_seg.weight'];
    expect(frozenBackboneNames(names, 0)).toEqual([]);
    expect(frozenBackboneNames(names, 1)).toEqual(names.slice(0, 4));
    expect(frozenBackboneNames(names, 2)).toEqual(names.slice(0, 5));
    expect(frozenBackboneNames(names, 11)).toEqual(names.slice(0, 6));
  });

  test('the flag sets frozenStages = numLayers; out-of-range values are refused naming the field', () => {
    const base = tinySegConfig(root);
    const c = finishSegConfig(structuredClone(base) as unknown as Record<string, unknown>, 'tiny', { frozenBackbone: true });
    expect(c.model.backbone.frozenStages).toBe(base.model.backbone.numLayers);
    const n = base.model.backbone.numLayers;
    expect(() => finishSegConfig(structuredClone(base) as unknown as Record<string, unknown>, 'tiny', { cfgOptions: [`model.backbone.frozenStages=${n + 1}`] }))
      .toThrow(/tiny: seg model config: backbone.frozenStages is \d+, not in \[0, numLayers/);
  });

  test('head gradients equal those of the unfrozen model (autodiff through the whole net); no backbone gradient', () => {
    const cfg = tinySegConfig(root);
    const frozen = withModel(cfg, (m) => (m.backbone.frozenStages = m.backbone.numLayers));
    const a = buildSegmentor(cfg.model, new Rng(3));
    const b = buildSegmentor(frozen.model, new Rng(3));
    const { imgs, labels } = batch(cfg);
    const before = tf.memory().numTensors;
    const gb = segTrainGrads(b, imgs, labels, { rng: null, stochastic: false });
    const headNames = [...gb.grads.keys()];
    expect(headNames.length).toBeGreaterThan(0);
    expect(headNames.some((n) => n.startsWith('backbone.'))).toBe(false);
    expect(b.params.trainableNames().some((n) => n.startsWith('backbone.'))).toBe(false);
    const ga = segTrainGrads(a, imgs, labels, { rng: null, stochastic: false }, headNames);
    expect(gb.loss).toBeCloseTo(ga.loss, 5);
    for (const n of headNames) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(ga.grads.get(n)!, gb.grads.get(n)!))).dataSync()[0]);
      const s = tf.tidy(() => tf.max(tf.abs(ga.grads.get(n)!)).dataSync()[0]);
      expect(d, n).toBeLessThanOrEqual(1e-5 * Math.max(1, s));
    }
    for (const g of [ga, gb]) tf.dispose([...g.grads.values(), ...g.bnUpdates.values()]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([imgs, labels]);
    a.params.dispose();
    b.params.dispose();
  });

  test('seg-train keeps the backbone bit-identical and trains the head', async () => {
    const cfg = finishSegConfig(structuredClone(tinySegConfig(root)) as unknown as Record<string, unknown>, 'tiny', { frozenBackbone: true });
    const init = buildSegmentor(cfg.model, new Rng(cfg.seed).fork());
    const start = init.params.toStateDict();
    init.params.dispose();
    const s = await runSegTrain(cfg, { quiet: true, noEval: true });
    const ck = loadCheckpoint(s.checkpoint).tensors;
    let backbone = 0;
    for (const [k, t] of start) {
      if (!k.startsWith('backbone.')) continue;
      backbone++;
      expect(Buffer.from(ck.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
    }
    expect(backbone).toBeGreaterThan(0);
    const w = 'decode_head.conv_seg.weight';
    expect(Buffer.from(ck.get(w)!.data.buffer).equals(Buffer.from(start.get(w)!.data.buffer))).toBe(false);
    expect(s.params.trainable).toBeLessThan(s.params.total);
  });
});

describe('--head linear', () => {
  test('without --head the config decides (a linear-head config stays linear)', () => {
    const head = segTrainCommand().options.find((o) => o.long === '--head');
    expect(head).toBeDefined();
    expect(head!.defaultValue).toBeUndefined();
    const lin = structuredClone(tinySegConfig(root));
    lin.model.decodeHead.type = 'linear';
    lin.model.auxiliaryHead = null;
    const c = finishSegConfig(lin as unknown as Record<string, unknown>, 'tiny', { head: undefined });
    expect(c.model.decodeHead.type).toBe('linear');
  });

  test('eval logits = BN(concat of the taps) then 1×1 conv, computed independently with tf ops', () => {
    const cfg = finishSegConfig(structuredClone(tinySegConfig(root)) as unknown as Record<string, unknown>, 'tiny', { head: 'linear' });
    expect(cfg.model.auxiliaryHead).toBeNull();
    const m = buildSegmentor(cfg.model, new Rng(5));
    const p = m.params;
    expect(p.names().some((n) => n.startsWith('neck.'))).toBe(false);
    // non-trivial running statistics and affine parameters
    const rng = new Rng(11);
    for (const k of ['weight', 'bias', 'running_mean']) {
      const v = p.get(`decode_head.bn.${k}`);
      v.assign(tf.tensor1d(Float32Array.from({ length: v.size }, () => rng.normal())));
    }
    const rv = p.get('decode_head.bn.running_var');
    rv.assign(tf.tensor1d(Float32Array.from({ length: rv.size }, () => 0.5 + rng.random())));
    const { imgs, labels } = batch(cfg);
    const got = segDecodeHeadOut(m, imgs);
    const want = tf.tidy(() => {
      const taps = segTaps(m, imgs);
      const x = tf.concat(cfg.model.decodeHead.inIndex.map((i) => taps[i]), 3);
      const bn = tf.batchNorm(x, p.get('decode_head.bn.running_mean'), rv, p.get('decode_head.bn.bias'), p.get('decode_head.bn.weight'), cfg.model.bnEps);
      return tf.add(tf.conv2d(bn as tf.Tensor4D, p.get('decode_head.conv_seg.weight') as tf.Tensor4D, 1, 'valid'), p.get('decode_head.conv_seg.bias'));
    });
    const g = cfg.model.backbone.imgSize / cfg.model.backbone.patchSize;
    expect(got.shape).toEqual([2, g, g, cfg.model.decodeHead.numClasses]);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
    expect(d).toBeLessThan(1e-4);
    tf.dispose([got, want, imgs, labels]);
    p.dispose();
  });

  test('frozen backbone + linear head: train, save with decode_head.bn/conv_seg keys, seg-eval of the checkpoint agrees', async () => {
    const cfg = finishSegConfig(structuredClone(tinySegConfig(root)) as unknown as Record<string, unknown>, 'tiny', { head: 'linear', frozenBackbone: true });
    const s = await runSegTrain(cfg, { quiet: true });
    const keys = [...loadCheckpoint(s.checkpoint).tensors.keys()];
    expect(keys.filter((k) => k.startsWith('decode_head.')).sort()).toEqual(
      ['decode_head.bn.bias', 'decode_head.bn.num_batches_tracked', 'decode_head.bn.running_mean', 'decode_head.bn.running_var', 'decode_head.bn.weight',
        'decode_head.conv_seg.bias', 'decode_head.conv_seg.weight']);
    expect(keys.some((k) => k.startsWith('neck.') || k.startsWith('auxiliary_head.'))).toBe(false);
    const r = await runSegEval(s.checkpoint, { quiet: true });
    expect(r.metrics.mIoU).toBe(s.metrics!.mIoU);
    expect(r.metrics.aAcc).toBe(s.metrics!.aAcc);
  });
});
