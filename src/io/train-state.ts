/**
 * The resume state of a training run: model tensors (state-dict names) + optimizer tensors (`optimizer.*`) in one
 * safetensors file, with the loop position and RNG states in its metadata. Written atomically at step boundaries
 * (every checkpointInterval steps, on SIGINT, on maxIters), so `--resume` continues exactly where a run stopped,
 * kill -9 included (it then repeats the steps after the last save, bit for bit).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StTensor } from './safetensors.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { RngState } from './rng.js';

export const RESUME_FILE = 'resume.safetensors';

export interface LoopPosition {
  /** Optimizer steps completed. */
  iteration: number;
  epoch: number;
  /** Next batch index inside `epoch`. */
  batchInEpoch: number;
  rng: Record<string, RngState>;
  /** Seconds of training before this save (for the summary's wall time). */
  elapsed: number;
}

export function resumePath(workDir: string): string {
  return join(workDir, RESUME_FILE);
}

export function saveResumeState(
  workDir: string,
  task: string,
  config: unknown,
  model: Map<string, StTensor>,
  optimizer: Map<string, StTensor>,
  pos: LoopPosition,
): void {
  const all = new Map<string, StTensor>(model);
  for (const [k, v] of optimizer) {
    if (all.has(k)) throw new Error(`optimizer state key '${k}' collides with a model key`);
    all.set(k, v);
  }
  saveCheckpoint(resumePath(workDir), all, { format_version: 1, task: `${task}-resume`, config, iteration: pos.iteration, epoch: pos.epoch, position: pos });
}

export interface ResumeState {
  file: string;
  config: unknown;
  model: Map<string, StTensor>;
  optimizer: Map<string, StTensor>;
  pos: LoopPosition;
}

export function loadResumeState(workDir: string, task: string): ResumeState | null {
  const file = resumePath(workDir);
  if (!existsSync(file)) return null;
  const ck = loadCheckpoint(file);
  if (!ck.meta || ck.meta.task !== `${task}-resume` || !ck.meta.position) {
    throw new Error(`${file}: not a ${task} resume state (task ${String(ck.meta?.task)})`);
  }
  const model = new Map<string, StTensor>();
  const optimizer = new Map<string, StTensor>();
  for (const [k, v] of ck.tensors) (k.startsWith('optimizer.') ? optimizer : model).set(k, v);
  return { file, config: ck.meta.config, model, optimizer, pos: ck.meta.position as LoopPosition };
}

/**
 * `--resume`: restore params, optimizer, RNG streams and the metrics log from `<workDir>/resume.safetensors` and
 * return the saved loop position; otherwise (or when there is no saved state) empty the metrics log and return
 * null, so the caller initialises a fresh run.
 */
export function restoreRun(o: {
  workDir: string;
  task: string;
  resume: boolean;
  params: { load(m: Map<string, StTensor>, opts: { strict: boolean; file: string }): unknown };
  optimizer: { loadState(m: Map<string, StTensor>, file?: string): void };
  rngs: Record<string, { setState(s: RngState): void }>;
  metrics: { truncateAfter(iter: number): void };
  log: (msg: string) => void;
  total: number;
}): LoopPosition | null {
  const st = o.resume ? loadResumeState(o.workDir, o.task) : null;
  if (!st) {
    if (o.resume) o.log(`[mff] --resume: no resume state in ${o.workDir}, starting from scratch`);
    o.metrics.truncateAfter(-1);
    return null;
  }
  o.params.load(st.model, { strict: true, file: st.file });
  o.optimizer.loadState(st.optimizer, st.file);
  for (const [k, rng] of Object.entries(o.rngs)) {
    if (!st.pos.rng[k]) throw new Error(`${st.file}: resume state has no '${k}' RNG stream`);
    rng.setState(st.pos.rng[k]);
  }
  o.metrics.truncateAfter(st.pos.iteration);
  o.log(`[mff] resumed from ${st.file} at iteration ${st.pos.iteration}/${o.total} (epoch ${st.pos.epoch})`);
  return st.pos;
}
