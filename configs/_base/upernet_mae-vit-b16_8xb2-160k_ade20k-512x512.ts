/**
 * mmseg configs/mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py, merged with its _base_ files into one typed
 * object: MAE (BEiT-style) ViT-B/16 at 512², out_indices [3, 5, 7, 11], Feature2Pyramid [4, 2, 1, 0.5], UPerHead
 * (768 channels, pool scales 1/2/3/6) + FCNHead aux (0.4), 150 ADE20K classes; AdamW lr 1e-4, wd 0.05, layer decay
 * 0.65; LinearLR(1e-6) for 1500 iters then PolyLR(power 1) to 160k; 8 GPUs × 2 = batch 16; slide 512/341.
 * Every UperNet config spreads this one and overrides a few fields (one level of base).
 * mff addition: model.backbone.withCp = true (activation checkpointing of the blocks, mmseg's `with_cp`): same
 * numbers, ~1/3 more backbone compute, and the 512² training step fits the CPU engine's 4 GB heap (batch 2 heap peak
 * measured: ViT-S 1.5 GB, ViT-B 2.7 GB; without it ViT-B is estimated at 7.8 GB). Set it to false where memory is plentiful.
 */
import { defineConfig, type SegConfig } from '../../src/config/seg.js';
import { maeBaseUpernetAde20k } from '../../src/models/seg/config.js';

export default defineConfig<SegConfig>({
  task: 'seg',
  model: { ...maeBaseUpernetAde20k(), backbone: { ...maeBaseUpernetAde20k().backbone, withCp: true } },
  data: {
    root: 'data/ade/ADEChallengeData2016',
    trainSplit: 'training',
    valSplit: 'validation',
    train: { scale: [2048, 512], ratioRange: [0.5, 2.0], cropSize: [512, 512], catMaxRatio: 0.75, flipProb: 0.5, photometric: true },
    testScale: [2048, 512],
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
    concurrency: 4,
    prefetch: 8,
  },
  testCfg: { mode: 'slide', crop: [512, 512], stride: [341, 341] },
  optim: { type: 'AdamW', lr: 1e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.05, layerDecayRate: 0.65 },
  schedule: { maxIters: 160000, warmupIters: 1500, warmupStartFactor: 1e-6, power: 1.0, etaMin: 0 },
  batchSize: 16,
  seed: 0,
  workDir: 'work_dirs/upernet_mae-vit-b16_8xb2-160k_ade20k-512x512',
  checkpointName: 'seg.ckpt',
  pretrained: '',
  evalMetrics: ['mIoU'],
  valInterval: 16000,
  logInterval: 50,
  checkpointInterval: 16000,
});
