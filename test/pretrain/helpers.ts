/** A tiny pretraining config on a small copy of the bundled dataset, for fast end-to-end tests. */
import { cpSync, readdirSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import base from '../../configs/mff/mff_vit-mini-p4_1xb64-coslr-20e_fashion-mnist.js';
import type { PretrainConfig } from '../../src/config/pretrain.js';
import { tempDir } from '../engine/temp-dirs.js';

export const BUNDLED = resolve(__dirname, '../../datasets/fashion-mnist-mini');

/** Copy `perClass` images of the first `classes` classes of the bundled train split into a temp ImageNet tree. */
export function smallDataset(classes = 3, perClass = 8): string {
  const root = tempDir('mff-data-');
  const names = readdirSync(join(BUNDLED, 'train')).sort().slice(0, classes);
  for (const c of names) {
    mkdirSync(join(root, 'train', c), { recursive: true });
    for (const f of readdirSync(join(BUNDLED, 'train', c)).sort().slice(0, perClass)) cpSync(join(BUNDLED, 'train', c, f), join(root, 'train', c, f));
  }
  return root;
}

export function tinyConfig(root: string, over: Partial<PretrainConfig> = {}): PretrainConfig {
  return {
    ...structuredClone(base),
    model: {
      ...structuredClone(base.model),
      arch: { embedDims: 32, numLayers: 3, numHeads: 2, feedforwardChannels: 64 },
      imgSize: 16,
      patchSize: 4,
      outIndices: [0, 2],
      decoder: { embedDims: 16, depth: 1, numHeads: 2 },
    },
    data: { ...structuredClone(base.data), root, pipeline: { kind: 'simple-resized-crop', size: 16, padding: 4, flip: true, interp: 'bilinear' }, concurrency: 3 },
    schedule: { epochs: 2, warmupEpochs: 1, warmupStartFactor: 0.1, etaMin: 0 },
    optim: { ...base.optim, baseLr: 1e-2 },
    batchSize: 8,
    accumSteps: 1,
    workDir: tempDir('mff-wd-'),
    logInterval: 1,
    checkpointInterval: 2,
    maxIters: 0,
    ...over,
  };
}
