/**
 * MFF ViT-L/16, 300 epochs. mmpretrain has MAE-L (arch 'l', decoder still 512/8/16) but no MFF-L config; the
 * taps here are our choice: the ViT-B pattern stretched over 24 blocks (every fourth block plus the last).
 */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: { ...base.model, algorithm: 'mff', arch: 'large', outIndices: [0, 4, 8, 12, 16, 23] },
  data: { ...base.data, pipeline: { kind: 'simple-resized-crop', size: 224, padding: 4, flip: true, interp: 'bilinear' } },
  seed: 2,
  workDir: 'work_dirs/mff_vit-large-p16_8xb512-amp-coslr-300e_in1k',
  checkpointName: 'vit-l-mff.ckpt',
});
