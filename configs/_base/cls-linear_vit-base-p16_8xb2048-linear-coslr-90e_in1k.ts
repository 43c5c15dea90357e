/**
 * mmpretrain configs/mff/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py as one typed object: frozen
 * VisionTransformer('base', cls_token after the final ln1) -> ClsBatchNormNeck(BatchNorm1d affine=False, eps 1e-6)
 * -> VisionTransformerClsHead(std 0.01), CrossEntropyLoss; MAERandomResizedCrop(224, bicubic) + flip; test
 * ResizeEdge(256, bilinear) + CenterCrop(224); mmpretrain LARS(0.1 × 16384/256 = 6.4, momentum 0.9, wd 0);
 * LinearLR(1e-4) for 10 epochs then cosine to 0; 90 epochs; 8 GPUs × 2048 = 16384 images per step (2048 × 8 here:
 * the BatchNorm statistics stay per 2048-image batch as on one GPU).
 * The linear-probe configs spread this one (one level of base).
 */
import { defineConfig } from '../../src/config/pretrain.js';
import type { ClsConfig } from '../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  task: 'cls',
  model: { mode: 'linear', arch: 'base', imgSize: 224, patchSize: 16, inChannels: 3, numClasses: 1000, lnEps: 1e-6, bnEps: 1e-6, headInitStd: 0.01 },
  pretrained: '',
  data: {
    root: 'data/imagenet',
    trainSplit: 'train',
    valSplit: 'val',
    trainPipeline: { kind: 'linear', size: 224, scale: [0.08, 1], flipProb: 0.5 },
    testPipeline: { size: 224, resize: 256, interp: 'bilinear' },
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
    concurrency: 8,
    prefetch: 2,
  },
  batchAugments: { mixupAlpha: 0, cutmixAlpha: 0 },
  labelSmooth: 0,
  optim: { type: 'LARS', baseLr: 0.1, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8, momentum: 0.9, layerDecayRate: 1 },
  schedule: { epochs: 90, warmupEpochs: 10, warmupStartFactor: 1e-4, etaMin: 0 },
  batchSize: 2048,
  accumSteps: 8,
  seed: 0,
  workDir: 'work_dirs/vit-base-p16_8xb2048-linear-coslr-90e_in1k',
  checkpointName: 'cls.ckpt',
  logInterval: 10,
  checkpointInterval: 100,
  evalInterval: 1,
  maxIters: 0,
});
