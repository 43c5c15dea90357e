/** MAE ViT-B/16, 800 epochs (warmup LinearLR start factor 1e-9, as mmpretrain's 800e config). */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  schedule: { ...base.schedule, epochs: 800, warmupStartFactor: 1e-9 },
  workDir: 'work_dirs/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k',
});
