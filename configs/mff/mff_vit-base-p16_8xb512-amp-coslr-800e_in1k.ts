/** MFF ViT-B/16, 800 epochs (mmpretrain configs/mff/mff_vit-base-p16_8xb512-amp-coslr-800e_in1k.py). */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: { ...base.model, algorithm: 'mff', outIndices: [0, 2, 4, 6, 8, 11] },
  data: { ...base.data, pipeline: { kind: 'simple-resized-crop', size: 224, padding: 4, flip: true, interp: 'bilinear' } },
  schedule: { ...base.schedule, epochs: 800, warmupStartFactor: 1e-9 },
  seed: 2,
  workDir: 'work_dirs/mff_vit-base-p16_8xb512-amp-coslr-800e_in1k',
  checkpointName: 'vit-b-mff.ckpt',
});
