/**
 * ViT-T/16 linear probing: the ViT-B recipe on DeiT-T (192-d × 12 × 3 heads). Not an mmpretrain config.
 */
import base from '../../_base/cls-linear_vit-base-p16_8xb2048-linear-coslr-90e_in1k.js';
import { defineConfig } from '../../../src/config/pretrain.js';
import type { ClsConfig } from '../../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  ...base,
  model: { ...base.model, arch: 'deit-tiny' },
  workDir: 'work_dirs/vit-tiny-p16_8xb2048-linear-coslr-90e_in1k',
});
