/** What every epoch-based training config (pretraining, classification) shares, and the config identity helper. */
import type { Schema } from './load.js';

export interface EpochRunConfig {
  /** Images per forward/backward pass (per "GPU" batch × GPUs in mmpretrain terms). */
  batchSize: number;
  /** Gradient accumulation: optimizer steps every accumSteps batches (effective batch = batchSize × accumSteps). */
  accumSteps: number;
  seed: number;
  workDir: string;
  /** File name of the final checkpoint inside workDir. */
  checkpointName: string;
  /** Optimizer steps between metric lines. */
  logInterval: number;
  /** Optimizer steps between resume-state saves. */
  checkpointInterval: number;
  /** Stop after this many optimizer steps (0 = full schedule); the schedule still spans all epochs. */
  maxIters: number;
}

/** Schema of the EpochRunConfig fields plus the epoch schedule, spread into PRETRAIN_SCHEMA and CLS_SCHEMA. */
export const EPOCH_RUN_SCHEMA: Record<string, Schema> = {
  schedule: { epochs: 'integer', warmupEpochs: 'number', warmupStartFactor: 'number', etaMin: 'number' },
  batchSize: 'integer',
  accumSteps: 'integer',
  seed: 'integer',
  workDir: 'string',
  checkpointName: 'string',
  logInterval: 'integer',
  checkpointInterval: 'integer',
  maxIters: 'integer',
};

/** Typed identity for config modules: `export default defineConfig<PretrainConfig>({...})`. */
export function defineConfig<T>(cfg: T): T {
  return cfg;
}
