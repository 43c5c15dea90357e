/** MAE ViT-T/16 (DeiT-T dims, 192-d/8-block/6-head decoder): the ablation baseline for the MFF ViT-T config. */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: { ...base.model, arch: 'deit-tiny', outIndices: [11], decoder: { embedDims: 192, depth: 8, numHeads: 6 } },
  workDir: 'work_dirs/mae_vit-tiny-p16_8xb512-amp-coslr-300e_in1k',
  checkpointName: 'vit-t-mae.ckpt',
});
