/**
 * The default `mff cls-train --mode finetune` job: the fine-tune recipe scaled down to the bundled Fashion-MNIST subset
 * (datasets/fashion-mnist-mini, 10 classes, 1000 train / 200 val, 28×28) and the backbone of
 * configs/mff/mff_vit-mini-p4_1xb64-coslr-20e_fashion-mnist.ts (128-d × 6 blocks × 4 heads, 32 px, patch 4).
 * Changes from the ImageNet recipe, for 28-px images and a short run: RRC scale 0.35–1, lr raised 2×
 * (layer decay 0.65 over 6 blocks), 3 warmup epochs, batch 64 × 1; test resize 36 (= floor(32 · 256/224)) + crop 32.
 */
import base from '../../_base/cls-finetune_vit-base-p16_8xb128-coslr-100e_in1k.js';
import { defineConfig } from '../../../src/config/pretrain.js';
import type { ClsConfig } from '../../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  ...base,
  model: { ...base.model, arch: { embedDims: 128, numLayers: 6, numHeads: 4, feedforwardChannels: 512 }, imgSize: 32, patchSize: 4, numClasses: 0 },
  data: {
    ...base.data,
    root: 'datasets/fashion-mnist-mini',
    trainPipeline: { ...base.data.trainPipeline, size: 32, scale: [0.35, 1] },
    testPipeline: { size: 32, resize: 0, interp: 'bicubic' },
    concurrency: 4,
  },
  optim: { ...base.optim, baseLr: 1e-3 },
  schedule: { ...base.schedule, epochs: 30, warmupEpochs: 3 },
  batchSize: 64,
  accumSteps: 1,
  workDir: 'work_dirs/vit-mini-p4_1xb64-coslr-30e_fashion-mnist',
  logInterval: 5,
  checkpointInterval: 50,
  evalInterval: 5,
});
