/**
 * The data side of the epoch-based runs (pretrain, cls: mmpretrain's EpochBasedTrainLoop): a shuffled drop-last
 * loader, whole optimizer steps per epoch (accumSteps micro-batches each), the schedule length and the scaled lr.
 */
import type { EpochRunConfig } from '../config/run.js';
import type { ImageFolderDataset } from '../data/imagenet.js';
import { BatchLoader, type Transform } from '../data/loader.js';
import type { BadFiles } from '../data/bad-files.js';
import { scaledLr } from './schedule.js';

type EpochCfg = EpochRunConfig & {
  schedule: { epochs: number };
  optim: { baseLr: number };
  data: { root: string; concurrency: number; prefetch: number };
};

export function epochRunData(cfg: EpochCfg, dataset: ImageFolderDataset, transform: Transform, bad?: BadFiles) {
  const loader = new BatchLoader({
    dataset, batchSize: cfg.batchSize, transform, seed: cfg.seed, shuffle: true, dropLast: true, concurrency: cfg.data.concurrency, prefetch: cfg.data.prefetch, bad,
  });
  const itersPerEpoch = Math.floor(loader.iterationsPerEpoch() / cfg.accumSteps);
  if (itersPerEpoch < 1) {
    throw new Error(`${cfg.data.root}: ${dataset.records.length} images give no full optimizer step of batchSize ${cfg.batchSize} × accumSteps ${cfg.accumSteps}`);
  }
  const effectiveBatch = cfg.batchSize * cfg.accumSteps;
  return { loader, itersPerEpoch, totalIters: cfg.schedule.epochs * itersPerEpoch, effectiveBatch, lr: scaledLr(cfg.optim.baseLr, effectiveBatch) };
}
