/**
 * MFF ViT-S/16, 300 epochs. mmpretrain ships no ViT-S MFF config; the paper's ViT-S is DeiT-S (384-d, 12 blocks,
 * 6 heads) with a 384-d, 8-block, 12-head decoder, as in the first author's development configs
 * (YuanLiuuuuuu/mmselfsup@pixmim_v2 mae_vit-small-p16_8xb512-amp-coslr-300e_in1k.py). Taps as the ViT-B release.
 */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: { ...base.model, algorithm: 'mff', arch: 'deit-small', outIndices: [0, 2, 4, 6, 8, 11], decoder: { embedDims: 384, depth: 8, numHeads: 12 } },
  data: { ...base.data, pipeline: { kind: 'simple-resized-crop', size: 224, padding: 4, flip: true, interp: 'bilinear' } },
  seed: 2,
  workDir: 'work_dirs/mff_vit-small-p16_8xb512-amp-coslr-300e_in1k',
  checkpointName: 'vit-s-mff.ckpt',
});
