/**
 * MFF ViT-T/16 (DeiT-T dims: 192-d, 12 blocks, 3 heads), 300 epochs. No reference config exists; following the
 * ViT-S recipe, the decoder matches the encoder width (192-d, 8 blocks, 6 heads). Taps as the ViT-B release.
 */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: { ...base.model, algorithm: 'mff', arch: 'deit-tiny', outIndices: [0, 2, 4, 6, 8, 11], decoder: { embedDims: 192, depth: 8, numHeads: 6 } },
  data: { ...base.data, pipeline: { kind: 'simple-resized-crop', size: 224, padding: 4, flip: true, interp: 'bilinear' } },
  seed: 2,
  workDir: 'work_dirs/mff_vit-tiny-p16_8xb512-amp-coslr-300e_in1k',
  checkpointName: 'vit-t-mff.ckpt',
});
