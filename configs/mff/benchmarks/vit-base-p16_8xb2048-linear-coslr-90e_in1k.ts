/**
 * MFF ViT-B/16 linear probing on ImageNet-1k (mmpretrain configs/mff/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py).
 */
import base from '../../_base/cls-linear_vit-base-p16_8xb2048-linear-coslr-90e_in1k.js';
import { defineConfig } from '../../../src/config/pretrain.js';
import type { ClsConfig } from '../../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  ...base,
  model: { ...base.model, arch: 'base' },
  workDir: 'work_dirs/vit-base-p16_8xb2048-linear-coslr-90e_in1k',
});
