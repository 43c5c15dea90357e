/**
 * MFF ViT-B/16 fine-tuning on ImageNet-1k (mmpretrain configs/mff/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py).
 * Pass the pretrained backbone with --backbone (mmpretrain: --cfg-options model.backbone.init_cfg.checkpoint=...).
 */
import base from '../../_base/cls-finetune_vit-base-p16_8xb128-coslr-100e_in1k.js';
import { defineConfig } from '../../../src/config/pretrain.js';
import type { ClsConfig } from '../../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  ...base,
  model: { ...base.model, arch: 'base' },
  workDir: 'work_dirs/vit-base-p16_8xb128-coslr-100e_in1k',
});
