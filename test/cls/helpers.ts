/** Tiny classification configs on the bundled Fashion-MNIST subset (or a small copy of it), for fast tests. */
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import finetune from '../../configs/mff/benchmarks/vit-mini-p4_1xb64-coslr-30e_fashion-mnist.js';
import linear from '../../configs/mff/benchmarks/vit-mini-p4_1xb64-linear-coslr-30e_fashion-mnist.js';
import type { ClsConfig } from '../../src/config/cls.js';
import { tempDir } from '../engine/temp-dirs.js';

export const BUNDLED = resolve(__dirname, '../../datasets/fashion-mnist-mini');

/** `perClass` train and val images of the first `classes` classes, in a temp ImageNet tree. */
export function smallClsDataset(classes = 3, perClass = 8): string {
  const root = tempDir('mff-cls-data-');
  for (const split of ['train', 'val']) {
    for (const c of readdirSync(join(BUNDLED, split)).sort().slice(0, classes)) {
      mkdirSync(join(root, split, c), { recursive: true });
      for (const f of readdirSync(join(BUNDLED, split, c)).sort().slice(0, perClass)) cpSync(join(BUNDLED, split, c, f), join(root, split, c, f));
    }
  }
  return root;
}

/** The small CPU config of `mode`, shrunk: 32-d × 2 blocks, 16 px, batch 32, few epochs, fresh work dir. */
export function tinyClsConfig(mode: 'finetune' | 'linear', over: Partial<ClsConfig> = {}): ClsConfig {
  const base = structuredClone(mode === 'finetune' ? finetune : linear);
  return {
    ...base,
    model: { ...base.model, arch: { embedDims: 32, numLayers: 2, numHeads: 2, feedforwardChannels: 64 }, imgSize: 16 },
    data: {
      ...base.data,
      root: BUNDLED,
      trainPipeline: { ...base.data.trainPipeline, size: 16 },
      testPipeline: { ...base.data.testPipeline, size: 16 },
      concurrency: 3,
    },
    schedule: { ...base.schedule, epochs: 2, warmupEpochs: 0.5 },
    batchSize: 32,
    workDir: tempDir('mff-cls-wd-'),
    logInterval: 1,
    checkpointInterval: 1000,
    evalInterval: 0,
    ...over,
  };
}
