/**
 * The default job (`npx mff seg-train`): UperNet on the bundled scenes (datasets/scenes-mini, 200 train / 50 val
 * 64×64 scenes, 11 classes), minutes on 2 CPU cores. The backbone has the dims of the default pretraining config
 * (configs/mff/mff_vit-mini-p4_1xb64-coslr-20e_fashion-mnist.ts: 128-d × 6 blocks × 4 heads, patch 4, 32px), so its
 * checkpoint loads with `--backbone`. The mmseg pipeline scaled down 16×: RandomResize((128, 32), 0.5–2.0) ->
 * RandomCrop 32 (cat_max_ratio 0.75) -> flip -> PhotoMetricDistortion; test Resize (128, 32) -> whole 32×32,
 * metrics at the 64×64 label resolution. Head 64 channels (aux 32); lr 1e-3 for the short schedule.
 */
import base from '../_base/upernet_mae-vit-b16_8xb2-160k_ade20k-512x512.js';
import { defineConfig, type SegConfig } from '../../src/config/seg.js';

const D = 128;
const NUM_CLASSES = 11;

export default defineConfig<SegConfig>({
  ...base,
  model: {
    ...base.model,
    backbone: { ...base.model.backbone, imgSize: 32, patchSize: 4, embedDims: D, numLayers: 6, numHeads: 4, outIndices: [1, 2, 3, 5], dropPathRate: 0.1, withCp: false },
    decodeHead: { ...base.model.decodeHead, inChannels: [D, D, D, D], channels: 64, numClasses: NUM_CLASSES },
    auxiliaryHead: { ...base.model.auxiliaryHead!, inChannels: D, channels: 32, numClasses: NUM_CLASSES },
  },
  data: {
    ...base.data,
    root: 'datasets/scenes-mini',
    train: { ...base.data.train, scale: [128, 32], cropSize: [32, 32] },
    testScale: [128, 32],
    concurrency: 4,
    prefetch: 16,
  },
  testCfg: { mode: 'whole' },
  optim: { ...base.optim, lr: 1e-3 },
  schedule: { ...base.schedule, maxIters: 300, warmupIters: 30 },
  batchSize: 8,
  seed: 0,
  workDir: 'work_dirs/upernet_mff-vit-mini-p4_1xb8-300i_scenes-mini-32x32',
  pretrained: '',
  valInterval: 0,
  logInterval: 10,
  checkpointInterval: 100,
});
