/** MAE ViT-S/16 (DeiT-S dims, 384-d/8-block/12-head decoder): the ablation baseline for the MFF ViT-S config. */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: { ...base.model, arch: 'deit-small', outIndices: [11], decoder: { embedDims: 384, depth: 8, numHeads: 12 } },
  workDir: 'work_dirs/mae_vit-small-p16_8xb512-amp-coslr-300e_in1k',
  checkpointName: 'vit-s-mae.ckpt',
});
