/** Seg backbone initialised from the MFF pretraining fixture checkpoint (mmpretrain keys -> mmseg MAE keys). */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { loadCheckpoint, selectPrefix } from '../../src/io/checkpoint.js';
import { Rng } from '../../src/io/rng.js';
import { resizePosEmbed } from '../../src/models/pos-embed.js';
import { buildSegmentor } from '../../src/models/seg/segmentor.js';
import { maeBackbone } from '../../src/models/seg/mae-backbone.js';
import { buildPretrainModel, forwardEncoder, randomMasking } from '../../src/models/mae.js';
import { layerNorm } from '../../src/nn/layers.js';
import { loadBackboneFromPretrain } from '../../src/models/seg/pretrained.js';
import { segConfigFromFixture } from './seg-fixture.js';
import { goldenPath, loadFixture, pretrainModelConfig } from '../helpers/golden.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

describe('loadBackboneFromPretrain', () => {
  const pre = loadFixture('mff-pretrain');
  const ckpt = loadCheckpoint(goldenPath(pre.weights!));
  const pc = pre.config;
  const seg = segConfigFromFixture(loadFixture('seg-upernet').config);
  const D = pc.embed_dims;
  // The seg model takes the pretraining backbone's sizes, at twice the pretraining grid (pos_embed gets resized).
  const cfg = {
    ...seg,
    backbone: {
      ...seg.backbone, embedDims: D, numLayers: pc.num_layers, numHeads: pc.num_heads, mlpRatio: pc.feedforward_channels / D,
      patchSize: pc.patch_size, imgSize: pc.img_size * 2, outIndices: [0, 1, 2, 3].map((i) => Math.min(i, pc.num_layers - 1)),
    },
    decodeHead: { ...seg.decodeHead, inChannels: seg.decodeHead.inChannels.map(() => D) },
    auxiliaryHead: { ...seg.auxiliaryHead!, inChannels: D },
  };

  test('maps the ViT weights, resizes pos_embed, drops the MFF/decoder keys, reports the rest', () => {
    const model = buildSegmentor(cfg, new Rng(0));
    const gamma = model.params.get('backbone.layers.0.gamma_1').dataSync().slice();
    const r = loadBackboneFromPretrain(model, ckpt.tensors, { file: pre.weights });
    const g0 = pc.img_size / pc.patch_size;
    expect(r.posEmbedResized).toEqual([[g0, g0], [2 * g0, 2 * g0]]);
    // every pretraining backbone key except the pretraining-only ones is loaded
    const srcBackbone = [...selectPrefix(ckpt.tensors, 'backbone.').keys()];
    const dropped = srcBackbone.filter((k) => k.startsWith('ln1.') || k.startsWith('proj_layers.') || k === 'proj_weights');
    expect(dropped.length).toBeGreaterThan(0);
    // all of them pretraining-only: expected, nothing to warn about
    expect(r.expectedUnexpected.sort()).toEqual(dropped.map((k) => `backbone.${k}`).sort());
    expect(r.unexpected).toEqual([]);
    expect(r.algorithm).toBe('mff');
    expect(r.loaded.length).toBe(srcBackbone.length - dropped.length);
    expect(r.skipped.length).toBeGreaterThan(0);
    expect(r.skipped.every((k) => !k.startsWith('backbone.'))).toBe(true);
    // BEiT-only entries are missing and keep their init
    const per = ['gamma_1', 'gamma_2', 'attn.relative_position_bias_table', 'attn.relative_position_index'];
    expect(r.expectedMissing.sort()).toEqual(Array.from({ length: pc.num_layers }, (_, i) => per.map((s) => `backbone.layers.${i}.${s}`)).flat().sort());
    expect(r.missing).toEqual([]);
    expect(Array.from(model.params.get('backbone.layers.0.gamma_1').dataSync())).toEqual(Array.from(gamma));
    // values: qkv (weight + full bias) in PyTorch layout, and the bicubic-resized pos_embed
    for (const k of ['layers.1.attn.qkv.weight', 'layers.1.attn.qkv.bias', 'layers.0.ffn.layers.0.0.weight', 'patch_embed.projection.weight', 'cls_token']) {
      const t = model.params.torchTensor(`backbone.${k}`);
      expect(Array.from(t.dataSync()), k).toEqual(Array.from(ckpt.tensors.get(`backbone.${k}`)!.data));
      t.dispose();
    }
    const pe = ckpt.tensors.get('backbone.pos_embed')!;
    const want = resizePosEmbed(pe.data as Float32Array, [g0, g0], [2 * g0, 2 * g0], D, 1);
    expect(Array.from(model.params.get('backbone.pos_embed').dataSync())).toEqual(Array.from(want));
    model.params.dispose();
  });

  test('a backbone loaded from the checkpoint computes the pretraining encoder (unmasked), block for block', () => {
    // Same grid, no masking: mmseg's MAE with the loaded ViT weights (gamma 1, zero relative bias, no final norm)
    // must give the pretraining encoder's last block. The MAE view of the checkpoint ends in ln1 after the last
    // block, so ln1 (from the same checkpoint) is applied to the seg features before comparing.
    const pm = buildPretrainModel({ ...pretrainModelConfig(pc), algorithm: 'mae', maskRatio: 0, outIndices: [pc.num_layers - 1] }, new Rng(1));
    const lr = pm.params.load(ckpt.tensors, { file: pre.weights });
    expect(lr.missing).toEqual([]);
    const last = pc.num_layers - 1;
    const model = buildSegmentor({ ...cfg, backbone: { ...cfg.backbone, imgSize: pc.img_size, dropPathRate: 0 } }, new Rng(2));
    loadBackboneFromPretrain(model, ckpt.tensors, { file: pre.weights });
    // the BEiT-only entries keep an init that makes them identities: a non-trivial gamma would break equality
    expect(cfg.backbone.initValues).toBe(1);
    const before = tf.memory().numTensors;
    const diff = tf.tidy(() => {
      const rng = new Rng(3);
      const S = pc.img_size;
      const img = tf.tensor4d(Float32Array.from({ length: 2 * S * S * pc.in_channels }, () => rng.normal()), [2, S, S, pc.in_channels]);
      const L = (S / pc.patch_size) ** 2;
      const keepAll = randomMasking(Float32Array.from({ length: 2 * L }, (_, i) => i % L), 2, L, L); // identity order
      const latent = forwardEncoder(pm, img, keepAll).latent; // [2, 1+L, D], after ln1
      const feat = maeBackbone(model.params, { ...model.cfg.backbone, outIndices: [last] }, img)[0]; // [2, g, g, D]
      // [2, g, g, D] -> [2, L, D]; ln1 of the checkpoint
      const seg = layerNorm(pm.params, 'backbone.ln1', tf.reshape(feat, [2, L, D]), pc.ln_eps);
      const ref = tf.slice(latent, [0, 1, 0], [-1, -1, -1]); // patch tokens
      return [tf.max(tf.abs(tf.sub(seg, ref))).dataSync()[0], tf.max(tf.abs(ref)).dataSync()[0]];
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(diff[1]).toBeGreaterThan(0.1);
    expect(diff[0]).toBeLessThan(1e-5 * diff[1]);
    pm.params.dispose();
    model.params.dispose();
  });

  test('a checkpoint for another width fails loudly, naming the file and key', () => {
    const model = buildSegmentor(seg, new Rng(0));
    expect(() => loadBackboneFromPretrain(model, ckpt.tensors, { file: 'mff.safetensors' })).toThrow(/mff.safetensors.*pos_embed|mff.safetensors.*shape/);
    model.params.dispose();
  });
});
