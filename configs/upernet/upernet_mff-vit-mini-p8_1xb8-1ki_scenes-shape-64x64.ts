/**
 * UperNet on the shape-only scenes (datasets/scenes-shape: 1000 train / 200 val 64×64 scenes, 6 classes: background +
 * 5 silhouette groups; colour, contrast and inversion drawn independently of the class — issue 10's backbone
 * benchmark). The backbone is the benchmark's pretraining ViT (configs/mff/mff_vit-mini-p8_1xb64-coslr-40e_scenes-shape-pool.ts:
 * 128-d × 6 blocks × 4 heads, 8-px patches at 64 px = 8×8 tokens, the cost of the 32-px default job), so an item of
 * 24–40 px spans 3–5 patches, as in the pretraining pool. The mmseg pipeline scaled
 * down 8×: RandomResize((256, 64), 0.5–2.0) -> RandomCrop 64 (cat_max_ratio 0.75) -> flip -> PhotoMetricDistortion;
 * test Resize (256, 64) -> whole 64×64. Head 64 channels (aux 32), lr 1e-3, mmseg's layer decay 0.65.
 */
import base from '../_base/upernet_mae-vit-b16_8xb2-160k_ade20k-512x512.js';
import { defineConfig, type SegConfig } from '../../src/config/seg.js';

const D = 128;
const NUM_CLASSES = 6;

export default defineConfig<SegConfig>({
  ...base,
  model: {
    ...base.model,
    backbone: { ...base.model.backbone, imgSize: 64, patchSize: 8, embedDims: D, numLayers: 6, numHeads: 4, outIndices: [1, 2, 3, 5], dropPathRate: 0.1, withCp: false },
    decodeHead: { ...base.model.decodeHead, inChannels: [D, D, D, D], channels: 64, numClasses: NUM_CLASSES },
    auxiliaryHead: { ...base.model.auxiliaryHead!, inChannels: D, channels: 32, numClasses: NUM_CLASSES },
  },
  data: {
    ...base.data,
    root: 'datasets/scenes-shape',
    train: { ...base.data.train, scale: [256, 64], cropSize: [64, 64] },
    testScale: [256, 64],
    concurrency: 4,
    prefetch: 16,
  },
  testCfg: { mode: 'whole' },
  optim: { ...base.optim, lr: 1e-3 },
  schedule: { ...base.schedule, maxIters: 1000, warmupIters: 100 },
  batchSize: 8,
  seed: 0,
  workDir: 'work_dirs/upernet_mff-vit-mini-p8_1xb8-1ki_scenes-shape-64x64',
  pretrained: '',
  valInterval: 0,
  logInterval: 20,
  checkpointInterval: 500,
});
