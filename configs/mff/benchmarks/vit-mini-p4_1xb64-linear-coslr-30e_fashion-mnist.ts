/**
 * The default `mff cls-train --mode linear` job: the linear-probe recipe scaled down to the bundled Fashion-MNIST
 * subset (datasets/fashion-mnist-mini) with the backbone of configs/mff/mff_vit-mini-p4_1xb64-coslr-20e_fashion-mnist.ts.
 * mmpretrain's LARS moves each tensor by about lr · eta · ‖p‖ per step whatever the batch, so the lr is kept at the
 * reference 6.4 (baseLr 0.1 × 16384/256) instead of being scaled down to a 64-image batch; 3 warmup epochs; test
 * resize 36 + crop 32 (bilinear, as the reference).
 */
import base from '../../_base/cls-linear_vit-base-p16_8xb2048-linear-coslr-90e_in1k.js';
import { defineConfig } from '../../../src/config/pretrain.js';
import type { ClsConfig } from '../../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  ...base,
  model: { ...base.model, arch: { embedDims: 128, numLayers: 6, numHeads: 4, feedforwardChannels: 512 }, imgSize: 32, patchSize: 4, numClasses: 0 },
  data: {
    ...base.data,
    root: 'datasets/fashion-mnist-mini',
    trainPipeline: { ...base.data.trainPipeline, size: 32, scale: [0.35, 1] },
    testPipeline: { size: 32, resize: 0, interp: 'bilinear' },
    concurrency: 4,
  },
  optim: { ...base.optim, baseLr: 25.6 },
  schedule: { ...base.schedule, epochs: 30, warmupEpochs: 3 },
  batchSize: 64,
  accumSteps: 1,
  workDir: 'work_dirs/vit-mini-p4_1xb64-linear-coslr-30e_fashion-mnist',
  logInterval: 5,
  checkpointInterval: 50,
  evalInterval: 5,
});
