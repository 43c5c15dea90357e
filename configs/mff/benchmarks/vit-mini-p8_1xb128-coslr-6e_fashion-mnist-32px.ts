/**
 * The benchmark's classification fine-tune (`mff benchmark`, issue 10): the whole Fashion-MNIST train set (60k) at
 * 32 px with the benchmark backbone's 8-px patches (4×4 tokens; see the linear-probe config beside it), the default
 * mini fine-tune recipe (AdamW, layer decay 0.65, mixup/cutmix, label smoothing, RandAugment) for 6 epochs of batch 128 (lr = baseLr 1e-3 × 128 / 256);
 * test on the 10k test set.
 */
import base from './vit-mini-p4_1xb64-coslr-30e_fashion-mnist.js';
import { defineConfig } from '../../../src/config/pretrain.js';
import type { ClsConfig } from '../../../src/config/cls.js';

export default defineConfig<ClsConfig>({
  ...base,
  model: { ...base.model, imgSize: 32, patchSize: 8 },
  data: { ...base.data, root: 'work_dirs/benchmark/data/fashion-mnist' },
  schedule: { ...base.schedule, epochs: 6, warmupEpochs: 1 },
  batchSize: 128,
  workDir: 'work_dirs/vit-mini-p8_1xb128-coslr-6e_fashion-mnist-32px',
  logInterval: 20,
  checkpointInterval: 200,
  evalInterval: 6,
});
