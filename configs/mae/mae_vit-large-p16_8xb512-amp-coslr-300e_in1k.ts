/** MAE ViT-L/16 (mmpretrain configs/mae/mae_vit-large-p16_8xb512-amp-coslr-300e_in1k.py: decoder 512/8/16). */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: { ...base.model, arch: 'large', outIndices: [23] },
  workDir: 'work_dirs/mae_vit-large-p16_8xb512-amp-coslr-300e_in1k',
  checkpointName: 'vit-l-mae.ckpt',
});
