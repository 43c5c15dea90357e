/**
 * ViT-S/16 linear probing: the ViT-B recipe on DeiT-S (384-d × 12 × 6 heads), as the first author's mmselfsup fork
 * (vit-small-p16_linear-8xb2048-coslr-mae-lars-torch-90e_in1k.py). mmpretrain ships no ViT-S MFF config.
 */
import base from '../../_base/cls-linear_vit-base-p16_8xb2048-linear-coslr-90e_in1k.js';
import { defineConfig } from '../../../src/config/pretrain.js';
import type { ClsConfig } from '../../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  ...base,
  model: { ...base.model, arch: 'deit-small' },
  workDir: 'work_dirs/vit-small-p16_8xb2048-linear-coslr-90e_in1k',
});
