/**
 * ViT-S/16 fine-tuning: the ViT-B recipe on DeiT-S (384-d × 12 × 6 heads), the ViT-S of the MFF paper / the
 * first author's mmselfsup fork (vit-small-p16_ft-8xb128-coslr-100e_in1k.py). mmpretrain ships no ViT-S MFF config.
 */
import base from '../../_base/cls-finetune_vit-base-p16_8xb128-coslr-100e_in1k.js';
import { defineConfig } from '../../../src/config/pretrain.js';
import type { ClsConfig } from '../../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  ...base,
  model: { ...base.model, arch: 'deit-small' },
  workDir: 'work_dirs/vit-small-p16_8xb128-coslr-100e_in1k',
});
