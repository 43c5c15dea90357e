/**
 * Bench config "P" (issue: CPU engine): MFF ViT-T/4 — 192-d, 12 blocks, 3 heads, patch 4, 32×32 images,
 * taps [0, 2, 4, 6, 8, 11], decoder 128-d × 4 blocks × 4 heads, mask 0.75, norm-pix, AdamW, batch 64.
 */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: {
    ...base.model,
    algorithm: 'mff',
    arch: 'deit-tiny',
    imgSize: 32,
    patchSize: 4,
    outIndices: [0, 2, 4, 6, 8, 11],
    decoder: { embedDims: 128, depth: 4, numHeads: 4 },
  },
  data: {
    ...base.data,
    root: 'datasets/fashion-mnist-mini',
    pipeline: { kind: 'simple-resized-crop', size: 32, padding: 4, flip: true, interp: 'bilinear' },
    concurrency: 4,
  },
  optim: { ...base.optim, baseLr: 6e-4 },
  schedule: { epochs: 100, warmupEpochs: 10, warmupStartFactor: 1e-4, etaMin: 0 },
  batchSize: 64,
  accumSteps: 1,
  seed: 2,
  workDir: 'work_dirs/mff_vit-tiny-p4_1xb64-coslr-100e_fashion-mnist',
  checkpointName: 'vit-t-mff.ckpt',
  logInterval: 10,
  checkpointInterval: 100,
});
