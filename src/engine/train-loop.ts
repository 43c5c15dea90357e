/**
 * The one training loop of every task (mmengine's Runner + Iter/EpochBasedTrainLoop, MAE's `train_one_epoch`).
 * A task hands over its batches, parameters, optimizer, schedule and one `step(batch)` (forward + backward); the
 * loop owns everything else: the work-dir lock and the finished / interrupted run policy (`--force`, io/work-dir.ts),
 * the loop position and epoch rollover, `--resume`, config.json, the stop signal
 * (SIGINT / SIGTERM: finish the step, save, stop), gradient accumulation, the NaN/Inf guard, the lr of every
 * iteration, optimizer.step, BatchNorm running-stat updates, the metrics.jsonl line, the progress line, periodic
 * and final resume saves, removal of the resume state once the run is complete, and disposal (also on error).
 *
 * Vocabulary (metrics.jsonl and every summary.json):
 *   img_per_s        images per second of wall-clock time (what a user waits for, data loading included)
 *   model_img_per_s  images per second of model time only (step + optimizer.step + BN update)
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../nn/params.js';
import { applyBnUpdates, disposeBnUpdates } from '../nn/conv.js';
import type { Rng } from '../io/rng.js';
import { writeFileAtomic } from '../io/checkpoint.js';
import { restoreRun, resumePath, RESUME_FILE, saveResumeState, type LoopPosition } from '../io/train-state.js';
import { checkWorkDir, lockWorkDir } from '../io/work-dir.js';
import type { Optimizer } from './optim.js';
import { groupLr, lrAt, type ScheduleSpec } from './schedule.js';
import { MetricsLog } from './log.js';
import { Progress } from './progress.js';
import { formatNumber } from './summary.js';

export type Log = (msg: string) => void;

/** console.error unless quiet. */
export function logger(quiet?: boolean): Log {
  return (msg) => {
    if (!quiet) console.error(msg);
  };
}

/** A progress stream that prints nothing (`--quiet`). */
export const SILENT = { write: () => true };

/** What one micro-batch's forward + backward gives the loop. The loop owns (and disposes) the tensors. */
export interface TrainStep {
  loss: number;
  /** Keyed by parameter name. */
  grads: Map<string, tf.Tensor>;
  /** BatchNorm running stats to assign (parameter name -> new value), applied after the micro-batch. */
  bnUpdates?: Map<string, tf.Tensor>;
  /** Extra metrics.jsonl values of this step (the last micro-batch's when accumulating). */
  log?: Record<string, number>;
  /** Extra progress-line fields. */
  show?: Record<string, string>;
}

export interface TrainLoopSpec<B extends { files: readonly string[] }> {
  /** 'pretrain' | 'cls' | 'seg': names the resume state. */
  task: string;
  /** Progress-line label. */
  label: string;
  workDir: string;
  /** Written to config.json and into every resume state. */
  config: unknown;
  params: ParamStore;
  optimizer: Optimizer;
  /** Every random stream the steps draw from (saved and restored with the resume state). */
  rngs: Record<string, Rng>;
  /** The micro-batches of `epoch` from index `start` on (deterministic: a resumed run sees the same batches). */
  batches: (epoch: number, start: number) => AsyncIterable<B>;
  /** Optimizer steps per epoch; an epoch consumes itersPerEpoch × accumSteps micro-batches. */
  itersPerEpoch: number;
  accumSteps: number;
  /** Images per optimizer step (batch × accumSteps), for img/s. */
  effectiveBatch: number;
  schedule: ScheduleSpec;
  baseLr: number;
  totalIters: number;
  /** Stop early after this many iterations (0 = run to totalIters); the resume state is kept. */
  maxIters?: number;
  logInterval: number;
  checkpointInterval: number;
  /** Forward + backward of one micro-batch. */
  step: (batch: B) => TrainStep | Promise<TrainStep>;
  /** metrics.jsonl values read after the optimizer step (MFF fusion weights). */
  afterStep?: () => Record<string, number>;
  /** Called after every optimizer step (before the periodic save); the task decides whether to validate. */
  validate?: (ctx: { pos: LoopPosition; epochEnded: boolean; metrics: MetricsLog }) => Promise<void>;
  /** Runs first, before anything is restored or written (a pre-flight that may refuse the run). */
  check?: () => void;
  /** Runs when the run starts fresh (not resumed): load pretrained weights. */
  onFreshStart?: () => void;
  /** One line describing the run, logged once it is set up. */
  describe?: () => string;
  resume?: boolean;
  /** Train even if the work dir holds a finished or interrupted run (io/work-dir.ts). */
  force?: boolean;
  quiet?: boolean;
  log: Log;
}

export interface LoopResult {
  pos: LoopPosition;
  totalIters: number;
  interrupted: boolean;
  /** Loss of the last optimizer step (NaN if none ran). */
  finalLoss: number;
  /** Loss of every optimizer step of this process. */
  losses: number[];
  metrics: MetricsLog;
  /** Optimizer steps done by this process. */
  trainedIters: number;
  /** Seconds of this process's loop, and of model time only. */
  loopSeconds: number;
  modelSeconds: number;
  /** Wall-clock seconds over all runs of this work dir (resumed runs included). */
  wallSeconds: number;
}

/** The summary keys every task shares (see the vocabulary above). */
export function loopSummary(r: LoopResult, effectiveBatch: number) {
  const images = r.trainedIters * effectiveBatch;
  return {
    iterations: r.pos.iteration,
    total_iterations: r.totalIters,
    effective_batch: effectiveBatch,
    final_loss: r.finalLoss,
    wall_s: r.wallSeconds,
    img_per_s: r.loopSeconds > 0 ? images / r.loopSeconds : 0,
    model_img_per_s: r.modelSeconds > 0 ? images / r.modelSeconds : 0,
    interrupted: r.interrupted,
  };
}

/** The summary.md rows every training run shares, named as the summary keys (img/s with 4 significant digits). */
export function loopReportRows(s: ReturnType<typeof loopSummary>): [string, string | number][] {
  return [
    ['iterations', `${s.iterations} / ${s.total_iterations}`],
    ['effective batch', s.effective_batch],
    ['final loss', formatNumber(s.final_loss, 4)],
    ['wall time (s)', formatNumber(s.wall_s, 1)],
    ['img/s (wall clock)', formatNumber(s.img_per_s)],
    ['img/s (model)', formatNumber(s.model_img_per_s)],
  ];
}

/**
 * Run the loop, then `finish` (final checkpoint, reports). The resume state is removed once the run is complete and
 * `finish` succeeded; params and optimizer are disposed at the end, on error too.
 */
export async function trainLoop<B extends { files: readonly string[] }, T>(s: TrainLoopSpec<B>, finish: (r: LoopResult) => Promise<T>): Promise<T> {
  const { workDir, params: p, optimizer, log } = s;
  const created = !existsSync(workDir);
  let pos: LoopPosition | null = null;
  try {
    s.check?.();
    const release = lockWorkDir(workDir, log);
    try {
      // --resume on a finished run: nothing to do; its summary.json is what `finish` returned then
      const done = checkWorkDir(workDir, RESUME_FILE, { resume: Boolean(s.resume), force: Boolean(s.force), log });
      if (done) return done as T;
      const metrics = new MetricsLog(join(workDir, 'metrics.jsonl'));
      const restored = restoreRun({
        workDir, task: s.task, resume: Boolean(s.resume), params: p, optimizer, rngs: s.rngs, metrics, log, total: s.totalIters,
      });
      if (!restored) s.onFreshStart?.();
      pos = restored ?? { iteration: 0, epoch: 0, batchInEpoch: 0, rng: {}, elapsed: 0 };
      writeFileAtomic(join(workDir, 'config.json'), JSON.stringify(s.config, null, 2) + '\n');
      if (s.describe) log(s.describe());
      const r = await runIterations(s, pos, metrics);
      if (r.interrupted || pos.iteration < s.totalIters) {
        saveResume(s, pos, r.loopSeconds);
        log(`[mff] saved resume state at iteration ${pos.iteration}/${s.totalIters}: continue with --resume`);
      }
      const out = await finish(r);
      if (!r.interrupted && pos.iteration >= s.totalIters && existsSync(resumePath(workDir))) rmSync(resumePath(workDir));
      return out;
    } finally {
      release(); // before a failed fresh run's work dir is removed below
    }
  } catch (e) {
    // a run that fails before its first optimizer step leaves no work dir behind (only one this run created)
    if (created && (pos === null || pos.iteration === 0)) rmSync(workDir, { recursive: true, force: true });
    throw e;
  } finally {
    optimizer.dispose();
    p.dispose();
  }
}

function saveResume<B extends { files: readonly string[] }>(s: TrainLoopSpec<B>, pos: LoopPosition, loopSeconds: number): void {
  const rng = Object.fromEntries(Object.entries(s.rngs).map(([k, r]) => [k, r.getState()]));
  saveResumeState(s.workDir, s.task, s.config, s.params.toStateDict(), s.optimizer.state(), { ...pos, rng, elapsed: pos.elapsed + loopSeconds });
}

async function runIterations<B extends { files: readonly string[] }>(s: TrainLoopSpec<B>, pos: LoopPosition, metrics: MetricsLog): Promise<LoopResult> {
  const { totalIters, accumSteps, effectiveBatch } = s;
  const stopAt = s.maxIters && s.maxIters > 0 ? Math.min(s.maxIters, totalIters) : totalIters;
  const batchesPerEpoch = s.itersPerEpoch * accumSteps;
  const progress = new Progress({ total: stopAt, every: s.logInterval, label: s.label, startIter: pos.iteration, ...(s.quiet ? { stream: SILENT } : {}) });
  const stop = new StopSignal(s.log);
  const accum = new GradAccumulator(accumSteps);
  const startIter = pos.iteration;
  const losses: number[] = [];
  const t0 = performance.now();
  let stepStart = t0;
  let modelMs = 0;
  let interrupted = false;
  try {
    outer: while (pos.iteration < stopAt) {
      const epoch = pos.epoch;
      for await (const batch of s.batches(epoch, pos.batchInEpoch)) {
        if (pos.batchInEpoch >= batchesPerEpoch) break;
        // ---- forward + backward of one micro-batch
        const m0 = performance.now();
        const st = await s.step(batch);
        if (!Number.isFinite(st.loss)) {
          tf.dispose([...st.grads.values()]);
          if (st.bnUpdates) disposeBnUpdates(st.bnUpdates);
        }
        checkLoss(st.loss, { iteration: pos.iteration, epoch, batch: pos.batchInEpoch, file: batch.files[0], workDir: s.workDir });
        if (st.bnUpdates) applyBnUpdates(s.params, st.bnUpdates);
        accum.add(st.grads, st.loss);
        pos.batchInEpoch++;
        if (!accum.full) {
          modelMs += performance.now() - m0;
          continue;
        }

        // ---- optimizer step (per-group lr: layer decay scales the base lr, etaMin is absolute)
        const lr = lrAt(pos.iteration, s.schedule, s.baseLr);
        const { grads, loss } = accum.take();
        s.optimizer.step(grads, groupLr(pos.iteration, s.schedule, s.baseLr));
        tf.dispose([...grads.values()]);
        const now = performance.now();
        modelMs += now - m0;
        pos.iteration++;
        if (pos.batchInEpoch >= batchesPerEpoch) {
          pos.epoch++;
          pos.batchInEpoch = 0;
        }
        losses.push(loss);

        // ---- log
        const imgPerS = (effectiveBatch * 1000) / (now - stepStart);
        const modelImgPerS = (effectiveBatch * 1000) / (now - m0);
        stepStart = now;
        // iteration 1 too: the loss curve starts at the first iteration
        if (pos.iteration % s.logInterval === 0 || pos.iteration === stopAt || pos.iteration === 1) {
          metrics.append({
            iter: pos.iteration, epoch: pos.epoch, loss, lr, img_per_s: imgPerS, model_img_per_s: modelImgPerS, ...st.log,
            tensors: tf.memory().numTensors, ...s.afterStep?.(),
          });
        }
        progress.update(pos.iteration, { loss: loss.toFixed(4), ...st.show, lr: lr.toExponential(2), 'img/s': imgPerS >= 10 ? imgPerS.toFixed(1) : imgPerS.toPrecision(2) });
        await s.validate?.({ pos, epochEnded: pos.epoch !== epoch, metrics });
        if (pos.iteration % s.checkpointInterval === 0 && pos.iteration < stopAt) saveResume(s, pos, (performance.now() - t0) / 1000);
        if (stop.requested) {
          interrupted = true;
          break outer;
        }
        if (pos.iteration >= stopAt) break outer;
        if (pos.epoch !== epoch) break;
      }
    }
  } finally {
    stop.dispose();
    accum.dispose();
  }
  progress.done();
  const loopSeconds = (performance.now() - t0) / 1000;
  return {
    pos, totalIters, interrupted, finalLoss: losses.at(-1) ?? NaN, losses, metrics, trainedIters: pos.iteration - startIter,
    loopSeconds, modelSeconds: modelMs / 1000, wallSeconds: pos.elapsed + loopSeconds,
  };
}

/**
 * tf.variableGrads of `f` over the named parameters: the loss value and the gradients keyed by parameter name
 * (what optimizer.step takes). The loss tensor is disposed.
 */
export function gradsByName(p: ParamStore, names: readonly string[], f: () => tf.Scalar): { loss: number; grads: Map<string, tf.Tensor> } {
  const vars = names.map((n) => p.get(n));
  const { value, grads } = tf.variableGrads(f, vars);
  const loss = value.dataSync()[0];
  value.dispose();
  const out = new Map<string, tf.Tensor>();
  names.forEach((n, i) => {
    const g = grads[vars[i].name];
    if (g) out.set(n, g);
  });
  return { loss, grads: out };
}

/**
 * Σ grads / steps over `steps` micro-batches (mmengine scales the loss by 1/accumulative_counts), keyed by
 * parameter name. `add` takes ownership of the gradients; `take` hands the sum over and resets.
 */
export class GradAccumulator {
  private sum: Map<string, tf.Tensor> | null = null;
  private lossSum = 0;
  private count = 0;

  constructor(readonly steps: number) {
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`accumSteps must be a positive integer, got ${steps}`);
  }

  add(grads: Map<string, tf.Tensor>, loss: number): void {
    for (const [name, g] of grads) {
      const scaled = this.steps === 1 ? g : tf.tidy(() => tf.div(g, this.steps));
      if (scaled !== g) g.dispose();
      this.sum ??= new Map();
      const prev = this.sum.get(name);
      if (prev) {
        this.sum.set(name, tf.add(prev, scaled));
        tf.dispose([prev, scaled]);
      } else this.sum.set(name, scaled);
    }
    this.lossSum += loss / this.steps;
    this.count++;
  }

  /** True once `steps` micro-batches were added. */
  get full(): boolean {
    return this.count >= this.steps;
  }

  /** The accumulated gradients (caller disposes) and the mean loss; resets. */
  take(): { grads: Map<string, tf.Tensor>; loss: number } {
    const out = { grads: this.sum ?? new Map<string, tf.Tensor>(), loss: this.lossSum };
    this.sum = null;
    this.lossSum = 0;
    this.count = 0;
    return out;
  }

  dispose(): void {
    if (this.sum) tf.dispose([...this.sum.values()]);
    this.sum = null;
    this.count = 0;
    this.lossSum = 0;
  }
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** SIGINT / SIGTERM once: finish the step, save, stop (the command exits 130); twice: abort now. */
export class StopSignal {
  requested: (typeof STOP_SIGNALS)[number] | null = null;
  private readonly handler = (signal: NodeJS.Signals) => {
    if (this.requested) process.exit(130);
    this.requested = signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
    this.log(`\n[mff] ${this.requested}: finishing this step, saving the resume state, then exiting (Ctrl-C again to abort)`);
  };

  constructor(private readonly log: Log) {
    for (const sig of STOP_SIGNALS) process.on(sig, this.handler);
  }

  dispose(): void {
    for (const sig of STOP_SIGNALS) process.off(sig, this.handler);
  }
}

/** The NaN guard: a non-finite loss stops the run, naming where, without touching the last good state. */
export function checkLoss(loss: number, where: { iteration: number; epoch: number; batch: number; file?: string; workDir: string }): void {
  if (Number.isFinite(loss)) return;
  throw new Error(
    `loss became ${loss} at iteration ${where.iteration} (epoch ${where.epoch}, batch ${where.batch}` +
      `${where.file ? `, first file ${where.file}` : ''}); stopping without overwriting the last good state in ${where.workDir}: ` +
      'lower the lr or check the data',
  );
}
