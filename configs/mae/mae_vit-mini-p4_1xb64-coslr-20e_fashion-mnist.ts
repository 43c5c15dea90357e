/** The MAE ablation of the default job: identical except for the fusion (last block only). */
import base from '../_base/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import { defineConfig, type PretrainConfig } from '../../src/config/pretrain.js';

export default defineConfig<PretrainConfig>({
  ...base,
  model: {
    ...base.model,
    algorithm: 'mae',
    arch: { embedDims: 128, numLayers: 6, numHeads: 4, feedforwardChannels: 512 },
    imgSize: 32,
    patchSize: 4,
    outIndices: [5],
    decoder: { embedDims: 128, depth: 2, numHeads: 4 },
  },
  data: {
    ...base.data,
    root: 'datasets/fashion-mnist-mini',
    pipeline: { kind: 'simple-resized-crop', size: 32, padding: 4, flip: true, interp: 'bilinear' },
    concurrency: 4,
  },
  optim: { ...base.optim, baseLr: 4e-3 },
  schedule: { epochs: 20, warmupEpochs: 2, warmupStartFactor: 1e-4, etaMin: 0 },
  batchSize: 64,
  accumSteps: 1,
  seed: 2,
  workDir: 'work_dirs/mae_vit-mini-p4_1xb64-coslr-20e_fashion-mnist',
  checkpointName: 'vit-mini-mae.ckpt',
  logInterval: 5,
  checkpointInterval: 20,
  reconInterval: 5, // recon/epoch_5.png, epoch_10, epoch_15, epoch_20
});
