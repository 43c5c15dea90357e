/**
 * The benchmark's classification linear probe (`mff benchmark`, issue 10): the whole Fashion-MNIST train set (60k,
 * exported by the benchmark from Debian's dataset-fashion-mnist) at 32 px with the benchmark backbone's 8-px patches
 * (4×4 tokens: an item spans 3.5 patches, the scale of the items in the shape scenes it was pretrained on; the
 * checkpoint's 8×8 pos_embed is resized to 4×4). mmpretrain's linear-probe recipe (LARS, BN neck, frozen backbone) at
 * the reference lr 6.4 (see vit-mini-p4_1xb64-linear: LARS steps scale with ‖p‖, not the batch); test on the 10k test set.
 * Whole-image crops, as the fine-tune beside it: train RandomResizedCrop scale 1–1 (aspect jitter and flip only), test
 * resize 32 + crop 32 — Fashion-MNIST items fill their frame, and the ImageNet geometry (RRC 0.35–1, test resize 36 +
 * centre crop 32) cuts them off. Random-init control, seed 0 (docs/experiments/backbone-benchmark.md, round 5):
 * 60.04 → 67.30 % top-1.
 */
import base from './vit-mini-p4_1xb64-linear-coslr-30e_fashion-mnist.js';
import { defineConfig } from '../../../src/config/pretrain.js';
import type { ClsConfig } from '../../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  ...base,
  model: { ...base.model, imgSize: 32, patchSize: 8 },
  data: {
    ...base.data,
    root: 'work_dirs/benchmark/data/fashion-mnist',
    trainPipeline: { kind: 'linear', size: 32, scale: [1, 1], flipProb: 0.5 },
    testPipeline: { ...base.data.testPipeline, resize: 32 },
  },
  optim: { ...base.optim, baseLr: 6.4 },
  schedule: { ...base.schedule, epochs: 6, warmupEpochs: 1 },
  batchSize: 256,
  workDir: 'work_dirs/vit-mini-p8_1xb256-linear-coslr-6e_fashion-mnist-32px',
  logInterval: 20,
  checkpointInterval: 200,
  evalInterval: 6,
});
