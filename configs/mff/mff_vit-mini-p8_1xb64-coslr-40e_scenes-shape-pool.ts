/**
 * MFF pretraining for the backbone benchmark (`mff benchmark`, issue 10): the default mini ViT (128-d × 6 blocks ×
 * 4 heads, decoder 128-d × 2) at 64 px with 8-px patches (8×8 = 64 tokens, 16 kept: the cost of the 32-px default job)
 * on the unlabeled shape-scene pool (datasets/scenes/shape.ts, generateUnlabeledShapeScenes: Fashion-MNIST *train*
 * items only, never a validation scene; the benchmark writes it to <suite>/data/pool/train/pool). MAE's
 * RandomResizedCrop(64, scale 0.2–1) + flip. lr = baseLr × 64 / 256 = 1e-3 (the short-schedule lr of the default job).
 * The MFF and MAE configs are identical except for algorithm and taps (MFF: [0, 2, 4, 5] as in the default job, MAE: last block only).
 */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: {
    ...base.model,
    algorithm: 'mff',
    arch: { embedDims: 128, numLayers: 6, numHeads: 4, feedforwardChannels: 512 },
    imgSize: 64,
    patchSize: 8,
    outIndices: [0, 2, 4, 5],
    decoder: { embedDims: 128, depth: 2, numHeads: 4 },
  },
  data: {
    ...base.data,
    root: 'work_dirs/benchmark/data/pool',
    pipeline: { kind: 'random-resized-crop', size: 64, scale: [0.2, 1], flip: true, interp: 'bicubic' },
    concurrency: 4,
  },
  optim: { ...base.optim, baseLr: 4e-3 },
  schedule: { epochs: 40, warmupEpochs: 4, warmupStartFactor: 1e-4, etaMin: 0 },
  batchSize: 64,
  accumSteps: 1,
  seed: 2,
  workDir: 'work_dirs/mff_vit-mini-p8_1xb64-coslr-40e_scenes-shape-pool',
  checkpointName: 'vit-mini-p8-mff.ckpt',
  logInterval: 10,
  checkpointInterval: 100,
});
