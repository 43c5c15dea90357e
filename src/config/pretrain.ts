/**
 * The pretraining config (typed; authored as TS modules under configs/, resolved to JSON in the work dir).
 * Mirrors the mmpretrain MAE/MFF configs: model, data pipeline, AdamW, LinearLR warmup + cosine, batch.
 */
import type { PretrainModelConfig } from '../models/mae.js';
import type { PretrainPipeline } from '../data/transforms.js';
import { checkEpochSchedule, defineConfig, EPOCH_RUN_SCHEMA, type EpochRunConfig } from './run.js';
import { validate, type Schema } from './load.js';

export interface PretrainDataConfig {
  /** ImageNet layout root (`<root>/<split>/<class>/*`). Relative paths resolve against the current directory. */
  root: string;
  split: string;
  /** Optional mmpretrain-style ann file (`relative/path label` per line). */
  annFile?: string;
  pipeline: PretrainPipeline;
  mean: [number, number, number];
  std: [number, number, number];
  /** Concurrent decodes+transforms in flight. */
  concurrency: number;
  /** Batches prepared ahead of the model. */
  prefetch: number;
}

export interface PretrainOptimConfig {
  type: 'AdamW';
  /** lr = baseLr × (batchSize × accumSteps) / 256 (mmpretrain: 1.5e-4 × 4096 / 256 = 2.4e-3). */
  baseLr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

export interface PretrainScheduleConfig {
  epochs: number;
  /** LinearLR warmup (iteration-based), from warmupStartFactor × lr to lr. */
  warmupEpochs: number;
  warmupStartFactor: number;
  /** CosineAnnealingLR floor. */
  etaMin: number;
}

export interface PretrainConfig extends EpochRunConfig {
  task: 'pretrain';
  model: PretrainModelConfig;
  data: PretrainDataConfig;
  optim: PretrainOptimConfig;
  schedule: PretrainScheduleConfig;
  /** Epochs between reconstruction grids (recon/epoch_K.png); one is always drawn at the end. 0 or absent: only then. */
  reconInterval?: number;
}

export { defineConfig };


const PIPELINE: Schema = {
  $union: 'kind',
  variants: {
    'simple-resized-crop': { size: 'integer', padding: 'integer', flip: 'boolean', interp: ['bilinear', 'bicubic'] },
    'random-resized-crop': { size: 'integer', scale: { $array: 'number', $len: 2 }, flip: 'boolean', interp: ['bilinear', 'bicubic'] },
  },
};

export const PRETRAIN_SCHEMA: Schema = {
  task: ['pretrain'],
  model: {
    algorithm: ['mff', 'mae'],
    arch: 'any',
    imgSize: 'integer',
    patchSize: 'integer',
    inChannels: 'integer',
    maskRatio: 'number',
    outIndices: { $array: 'integer' },
    decoder: { embedDims: 'integer', depth: 'integer', numHeads: 'integer', feedforwardChannels: { $optional: 'integer' } },
    normPix: 'boolean',
    lnEps: 'number',
  },
  data: {
    root: 'string',
    split: 'string',
    annFile: { $optional: 'string' },
    pipeline: PIPELINE,
    mean: { $array: 'number', $len: 3 },
    std: { $array: 'number', $len: 3 },
    concurrency: 'integer',
    prefetch: 'integer',
  },
  optim: { type: ['AdamW'], baseLr: 'number', betas: { $array: 'number', $len: 2 }, eps: 'number', weightDecay: 'number' },
  reconInterval: { $optional: 'integer' },
  ...EPOCH_RUN_SCHEMA,
};

/** Keys that may be added by --cfg-options although absent from the file. */
export const PRETRAIN_OPTIONAL_KEYS: Record<string, string> = { 'data.annFile': 'string', 'model.decoder.feedforwardChannels': 'number', reconInterval: 'number' };

export function validatePretrainConfig(cfg: unknown, file: string): PretrainConfig {
  validate(cfg, PRETRAIN_SCHEMA, file);
  const c = cfg as PretrainConfig;
  if (c.model.imgSize !== c.data.pipeline.size) {
    throw new Error(`${file}: data.pipeline.size ${c.data.pipeline.size} must equal model.imgSize ${c.model.imgSize}`);
  }
  if (c.batchSize < 1 || c.accumSteps < 1) throw new Error(`${file}: batchSize and accumSteps must be >= 1`);
  checkEpochSchedule(c, file);
  if (c.reconInterval !== undefined && c.reconInterval < 0) throw new Error(`${file}: reconInterval must be >= 0, got ${c.reconInterval}`);
  return c;
}
