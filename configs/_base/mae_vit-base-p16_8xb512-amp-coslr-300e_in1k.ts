/**
 * mmpretrain configs/mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py, as one typed object: MAE ViT-B/16,
 * decoder 512-d × 8 blocks × 16 heads, mask 0.75, norm-pix loss, AdamW(1.5e-4 × 4096/256, 0.9/0.95, wd 0.05),
 * 40 warmup epochs (LinearLR start 1e-4) then cosine to 0, 8 × 512 = 4096 images per step.
 * Every other pretraining config spreads this one and overrides a few fields (one level of base).
 */
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  task: 'pretrain',
  model: {
    algorithm: 'mae',
    arch: 'base',
    imgSize: 224,
    patchSize: 16,
    inChannels: 3,
    maskRatio: 0.75,
    outIndices: [11],
    decoder: { embedDims: 512, depth: 8, numHeads: 16 },
    normPix: true,
    lnEps: 1e-6,
  },
  data: {
    root: 'data/imagenet',
    split: 'train',
    pipeline: { kind: 'random-resized-crop', size: 224, scale: [0.2, 1.0], flip: true, interp: 'bicubic' },
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
    concurrency: 8,
    prefetch: 2,
  },
  optim: { type: 'AdamW', baseLr: 1.5e-4, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.05 },
  schedule: { epochs: 300, warmupEpochs: 40, warmupStartFactor: 1e-4, etaMin: 0 },
  batchSize: 512,
  accumSteps: 8,
  seed: 0,
  workDir: 'work_dirs/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k',
  checkpointName: 'vit-b-mae.ckpt',
  logInterval: 50,
  checkpointInterval: 500,
  maxIters: 0,
});
