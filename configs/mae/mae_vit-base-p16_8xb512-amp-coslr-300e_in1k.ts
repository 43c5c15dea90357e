/** MAE ViT-B/16, 300 epochs: exactly the base config (mmpretrain configs/mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py). */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({ ...base });
