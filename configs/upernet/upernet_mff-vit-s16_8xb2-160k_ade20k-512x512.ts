/**
 * MFF ViT-S/16 (DeiT-S dims: 384-d × 12 blocks × 6 heads) + UperNet on ADE20K, 512², 160k iterations — the setting of
 * the MFF paper's ViT-S segmentation result. Head sizes as mmseg's _base_/models/upernet_mae.py (in_channels 384,
 * channels 512; aux 384 -> 256); everything else is the ViT-B recipe.
 */
import base from '../_base/upernet_mae-vit-b16_8xb2-160k_ade20k-512x512.js';
import { defineConfig, type SegConfig } from '../../src/config/seg.js';

export default defineConfig<SegConfig>({
  ...base,
  model: {
    ...base.model,
    backbone: { ...base.model.backbone, embedDims: 384, numHeads: 6 },
    decodeHead: { ...base.model.decodeHead, inChannels: [384, 384, 384, 384], channels: 512 },
    auxiliaryHead: { ...base.model.auxiliaryHead!, inChannels: 384 },
  },
  workDir: 'work_dirs/upernet_mff-vit-s16_8xb2-160k_ade20k-512x512',
  pretrained: 'work_dirs/vit-s-mff/vit-s-mff.ckpt',
});
