/** Pretraining parameter groups: mmpretrain MAE/MFF custom_keys (notes mmpretrain-mff.md §1.4, §5.1). */
import { expect, test } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import { isNormParam, pretrainParamGroups } from '../../src/engine/param-groups.js';
import { goldenPath, loadFixture } from '../helpers/golden.js';

test('MFF pretraining: ln/bias/pos_embed/mask_token/cls_token get wd 0, everything else 0.05', () => {
  const fx = loadFixture('mff-pretrain');
  const names = [...readSafetensors(goldenPath(fx.weights!)).tensors.keys()];
  const groups = pretrainParamGroups(names, { weightDecay: 0.05 });
  expect(groups.size).toBe(names.length);
  // hand-picked expectations from the optimizer dump in the notes
  const want: Record<string, number> = {
    'backbone.proj_weights': 0.05,
    'backbone.proj_layers.0.weight': 0.05,
    'backbone.proj_layers.0.bias': 0,
    'backbone.cls_token': 0,
    'backbone.pos_embed': 0,
    'backbone.patch_embed.projection.weight': 0.05,
    'backbone.patch_embed.projection.bias': 0,
    'backbone.layers.0.ln1.weight': 0,
    'backbone.layers.0.attn.qkv.weight': 0.05,
    'backbone.layers.0.ffn.layers.0.0.weight': 0.05,
    'backbone.ln1.bias': 0,
    'neck.mask_token': 0,
    'neck.decoder_pos_embed': 0,
    'neck.decoder_embed.weight': 0.05,
    'neck.decoder_pred.weight': 0.05,
    'neck.ln1.weight': 0,
  };
  for (const [n, wd] of Object.entries(want)) expect(groups.get(n), n).toEqual({ lrScale: 1, weightDecay: wd });
  // every weight matrix (2-D+) outside the listed keys is decayed, every 1-D bias/LN param is not
  for (const [n, g] of groups) if (n.endsWith('.bias')) expect(g.weightDecay, n).toBe(0);
});

test('isNormParam recognises norm modules by name', () => {
  expect(isNormParam('backbone.layers.3.ln2.weight')).toBe(true);
  expect(isNormParam('decode_head.bottleneck.bn.bias')).toBe(true);
  expect(isNormParam('backbone.norm1.weight')).toBe(true);
  expect(isNormParam('backbone.layers.3.attn.qkv.weight')).toBe(false);
  expect(isNormParam('head.fc.bias')).toBe(false);
});
