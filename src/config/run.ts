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

/**
 * Runs that would silently go wrong are refused with the numbers: a zero-length schedule (it would only write an
 * untrained checkpoint) and an all-warm-up one (the lr would never reach its peak, nor decay).
 */
export function checkEpochSchedule(c: EpochRunConfig & { schedule: { epochs: number; warmupEpochs: number } }, file: string): void {
  const { epochs, warmupEpochs } = c.schedule;
  if (epochs < 1) throw new Error(`${file}: schedule.epochs is ${epochs}: a zero-length run trains nothing (it would only write an untrained checkpoint); set schedule.epochs >= 1`);
  if (warmupEpochs < 0) throw new Error(`${file}: schedule.warmupEpochs must be >= 0, got ${warmupEpochs}`);
  if (warmupEpochs >= epochs) {
    throw new Error(
      `${file}: schedule.warmupEpochs ${warmupEpochs} >= schedule.epochs ${epochs}: the whole run would be LinearLR warm-up ` +
        `(the lr never reaches its peak nor decays); lower it, e.g. --cfg-options schedule.warmupEpochs=${epochs > 1 ? Math.max(1, Math.floor(epochs / 10)) : 0}`,
    );
  }
  if (c.maxIters < 0) throw new Error(`${file}: maxIters must be >= 0 (0 = the whole schedule), got ${c.maxIters}`);
}
