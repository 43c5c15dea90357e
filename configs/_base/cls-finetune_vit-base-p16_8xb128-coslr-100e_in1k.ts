/**
 * mmpretrain configs/mff/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py (= the MAE fine-tune benchmark) as one
 * typed object: VisionTransformer('base', drop_path 0.1, avg_featmap, final_norm False) + LinearClsHead(std 2e-5);
 * RRC(224, bicubic) + flip + RandAugment(rand-m9-mstd0.5-inc1) + RandomErasing(0.25); test ResizeEdge(256, bicubic) +
 * CenterCrop(224); Mixup(0.8) / CutMix(1.0) + LabelSmoothLoss(0.1); AdamW(5e-4 × 1024/256 = 2e-3, wd 0.05) with
 * layer decay 0.65 (no decay for norms, biases, cls_token, pos_embed); LinearLR(1e-4) for 5 epochs then cosine to
 * 1e-6; 100 epochs; 8 GPUs × 128 = 1024 images per step (here 128 × 8 accumulation steps).
 * The fine-tune configs spread this one (one level of base).
 */
import { defineConfig } from '../../src/config/pretrain.js';
import type { ClsConfig } from '../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  task: 'cls',
  model: { mode: 'finetune', arch: 'base', imgSize: 224, patchSize: 16, inChannels: 3, numClasses: 1000, dropPathRate: 0.1, lnEps: 1e-6, headInitStd: 2e-5 },
  pretrained: '',
  data: {
    root: 'data/imagenet',
    trainSplit: 'train',
    valSplit: 'val',
    trainPipeline: { kind: 'finetune', size: 224, scale: [0.08, 1], flipProb: 0.5, randAugment: true, erasingProb: 0.25 },
    testPipeline: { size: 224, resize: 256, interp: 'bicubic' },
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
    concurrency: 8,
    prefetch: 2,
  },
  batchAugments: { mixupAlpha: 0.8, cutmixAlpha: 1.0 },
  labelSmooth: 0.1,
  optim: { type: 'AdamW', baseLr: 5e-4, weightDecay: 0.05, betas: [0.9, 0.999], eps: 1e-8, momentum: 0, layerDecayRate: 0.65 },
  schedule: { epochs: 100, warmupEpochs: 5, warmupStartFactor: 1e-4, etaMin: 1e-6 },
  batchSize: 128,
  accumSteps: 8,
  seed: 0,
  workDir: 'work_dirs/vit-base-p16_8xb128-coslr-100e_in1k',
  checkpointName: 'cls.ckpt',
  logInterval: 100,
  checkpointInterval: 1000,
  evalInterval: 1,
  maxIters: 0,
});
