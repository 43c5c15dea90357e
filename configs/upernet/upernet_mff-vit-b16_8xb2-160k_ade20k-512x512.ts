/**
 * MFF ViT-B/16 + UperNet on ADE20K, 512², 160k iterations: the mmseg MAE recipe unchanged; the backbone comes from an
 * MFF pretraining checkpoint (`seg-train --backbone work_dirs/.../vit-b-mff.ckpt`, MFF's proj_layers/proj_weights dropped).
 */
import base from '../_base/upernet_mae-vit-b16_8xb2-160k_ade20k-512x512.js';
import { defineConfig, type SegConfig } from '../../src/config/seg.js';

export default defineConfig<SegConfig>({
  ...base,
  workDir: 'work_dirs/upernet_mff-vit-b16_8xb2-160k_ade20k-512x512',
  pretrained: 'work_dirs/mff_vit-base-p16_8xb512-amp-coslr-300e_in1k/vit-b-mff.ckpt',
});
