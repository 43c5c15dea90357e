/**
 * The MAE arm of the backbone benchmark (`mff benchmark`, issue 10): the MFF config beside it
 * (configs/mff/mff_vit-mini-p8_1xb64-coslr-40e_scenes-shape-pool.ts) with the fusion removed — same data, pipeline,
 * optimiser, schedule and seed; only the algorithm, the taps (last block only) and the output names differ.
 */
import mff from '../mff/mff_vit-mini-p8_1xb64-coslr-40e_scenes-shape-pool.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...mff,
  model: { ...mff.model, algorithm: 'mae', outIndices: [5] },
  workDir: 'work_dirs/mae_vit-mini-p8_1xb64-coslr-40e_scenes-shape-pool',
  checkpointName: 'vit-mini-p8-mae.ckpt',
});
