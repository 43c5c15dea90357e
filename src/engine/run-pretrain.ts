/**
 * `mff pretrain`: MFF / MAE pretraining loop. Wires the data loader, model, AdamW with mmpretrain's no-decay
 * rules, per-iteration LinearLR warmup + cosine, gradient accumulation, NaN guard, SIGINT save, resume, and
 * the outputs: checkpoint (safetensors, mmpretrain keys), metrics.jsonl, summary.json/md, loss-curve.png, config.
 */
import { mkdirSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend.js';
import type { PretrainConfig } from '../config/pretrain.js';
import { buildPretrainModel, drawNoise, pretrainForward, randomMasking, type PretrainModel } from '../models/mae.js';
import { fusionWeights } from '../models/mff.js';
import { Rng } from '../io/rng.js';
import { loadCheckpoint, saveCheckpoint, writeFileAtomic } from '../io/checkpoint.js';
import { restoreRun, saveResumeState, type LoopPosition } from '../io/train-state.js';
import { createOptimizer } from './optim.js';
import { GradAccumulator, StopSignal, checkLoss } from './loop.js';
import { pretrainParamGroups } from './param-groups.js';
import { lrAt, type ScheduleSpec } from './schedule.js';
import { Progress } from './progress.js';
import { MetricsLog } from './log.js';
import { linePlotPng } from './plot.js';
import { writeSummary } from './summary.js';
import { scanImageFolder } from '../data/imagenet.js';
import { buildPretrainTransform } from '../data/transforms.js';
import { BatchLoader } from '../data/loader.js';

export interface RunPretrainOptions {
  backend?: BackendName;
  /** Continue from `<workDir>/resume.safetensors` if present. */
  resume?: boolean;
  /** Where the config came from (recorded in the summary). */
  configFile?: string;
  /** Print nothing but errors. */
  quiet?: boolean;
  /**
   * Initialise the weights from a checkpoint (ours, or an mmpretrain state dict converted from a .pth):
   * every key of the model must be present with the same shape (strict), e.g. to continue pretraining.
   */
  loadFrom?: string;
}

export interface PretrainSummary {
  task: 'pretrain';
  algorithm: 'mff' | 'mae';
  config_file: string | null;
  backend: string;
  checkpoint: string;
  dataset: { root: string; split: string; images: number; classes: number };
  iterations: number;
  total_iterations: number;
  epochs: number;
  effective_batch: number;
  lr: number;
  wall_time_s: number;
  img_per_s: number;
  /** images / seconds with a load task in flight: a lower bound, the model step shares the main thread */
  loader_img_per_s: number | null;
  /** seconds the training loop waited for a batch (input-pipeline stall) */
  data_wait_s: number;
  final_loss: number;
  mean_loss_last_epoch: number;
  fusion_weights: { block: number; weight: number }[] | null;
  params: { total: number; trainable: number };
  interrupted: boolean;
}

/** mmpretrain schedule in optimizer steps: LinearLR warmup over warmupEpochs, then cosine to etaMin. */
export function pretrainSchedule(cfg: PretrainConfig, itersPerEpoch: number): ScheduleSpec {
  const total = cfg.schedule.epochs * itersPerEpoch;
  const warm = Math.min(Math.round(cfg.schedule.warmupEpochs * itersPerEpoch), total);
  const phases: ScheduleSpec[number][] = [];
  if (warm > 0) phases.push({ type: 'LinearLR', begin: 0, end: warm, startFactor: cfg.schedule.warmupStartFactor });
  if (total > warm) phases.push({ type: 'CosineAnnealingLR', begin: warm, end: total, etaMin: cfg.schedule.etaMin });
  return phases;
}

export async function runPretrain(cfg: PretrainConfig, opts: RunPretrainOptions = {}): Promise<PretrainSummary> {
  const backend = await initBackend(opts.backend, { quiet: opts.quiet });
  const log = (msg: string) => {
    if (!opts.quiet) console.error(msg);
  };
  const workDir = resolve(cfg.workDir);
  mkdirSync(workDir, { recursive: true });

  // ---- data
  const dataset = scanImageFolder(resolve(cfg.data.root), cfg.data.split, { annFile: cfg.data.annFile });
  const loader = new BatchLoader({
    dataset,
    batchSize: cfg.batchSize,
    transform: buildPretrainTransform(cfg.data.pipeline, cfg.data.mean, cfg.data.std),
    seed: cfg.seed,
    shuffle: true,
    dropLast: true,
    concurrency: cfg.data.concurrency,
    prefetch: cfg.data.prefetch,
  });
  const itersPerEpoch = Math.floor(loader.iterationsPerEpoch() / cfg.accumSteps);
  if (itersPerEpoch < 1) {
    throw new Error(
      `${cfg.data.root}: ${dataset.records.length} images give no full optimizer step of batchSize ${cfg.batchSize} × accumSteps ${cfg.accumSteps}`,
    );
  }
  const totalIters = cfg.schedule.epochs * itersPerEpoch;
  const schedule = pretrainSchedule(cfg, itersPerEpoch);
  const effBatch = cfg.batchSize * cfg.accumSteps;
  const lr = (cfg.optim.baseLr * effBatch) / 256;

  // ---- model + optimizer
  const rootRng = new Rng(cfg.seed);
  const model = buildPretrainModel(cfg.model, rootRng.fork());
  const maskRng = rootRng.fork();
  const p = model.params;
  const names = p.trainableNames();
  const optimizer = createOptimizer(
    { type: 'AdamW', betas: cfg.optim.betas, eps: cfg.optim.eps },
    p,
    pretrainParamGroups(names, { weightDecay: cfg.optim.weightDecay }),
  );

  if (opts.loadFrom) {
    const ck = loadCheckpoint(opts.loadFrom);
    // a full training checkpoint carries mmengine's 'state_dict.' prefix when converted naively: accept both
    const map = (k: string) => (k.startsWith('state_dict.') ? k.slice('state_dict.'.length) : k);
    p.load(ck.tensors, { strict: true, file: opts.loadFrom, map });
    log(`[mff] loaded ${p.names().length} tensors from ${opts.loadFrom}`);
  }

  let pos: LoopPosition = { iteration: 0, epoch: 0, batchInEpoch: 0, rng: {}, elapsed: 0 };
  const metrics = new MetricsLog(join(workDir, 'metrics.jsonl'));
  const restored = restoreRun({
    workDir, task: 'pretrain', resume: Boolean(opts.resume), params: p, optimizer, rngs: { mask: maskRng }, metrics, log, total: totalIters,
  });
  if (restored) pos = restored;
  writeFileAtomic(join(workDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');

  log(
    `[mff] ${cfg.model.algorithm.toUpperCase()} ${model.arch.embedDims}-d × ${model.arch.numLayers} blocks, taps [${model.outIndices}], ` +
      `${(p.numParams() / 1e6).toFixed(2)}M params; ${dataset.records.length} images (${cfg.data.root}/${cfg.data.split}); ` +
      `${itersPerEpoch} it/epoch × ${cfg.schedule.epochs} epochs; batch ${cfg.batchSize}×${cfg.accumSteps}; lr ${lr.toExponential(3)}`,
  );

  const stopAt = cfg.maxIters > 0 ? Math.min(cfg.maxIters, totalIters) : totalIters;
  const vars = names.map((n) => p.get(n));
  const varToName = new Map(vars.map((v, i) => [v.name, names[i]]));
  const stop = new StopSignal(log);

  const saveResume = () =>
    saveResumeState(workDir, 'pretrain', cfg, p.toStateDict(), optimizer.state(), {
      ...pos,
      rng: { mask: maskRng.getState() },
      elapsed: pos.elapsed + (performance.now() - t0) / 1000,
    });

  const progress = new Progress({ total: stopAt, every: cfg.logInterval, label: 'pretrain', startIter: pos.iteration });
  const t0 = performance.now();
  const startIter = pos.iteration;
  let lastLoss = NaN;
  const epochLosses: number[] = [];
  const accum = new GradAccumulator(cfg.accumSteps, varToName);
  let interrupted = false;
  let stepStart = performance.now();

  try {
    outer: while (pos.iteration < stopAt) {
      const epoch = pos.epoch;
      const batchesThisEpoch = itersPerEpoch * cfg.accumSteps;
      for await (const batch of loader.batches(epoch, pos.batchInEpoch)) {
        if (batch.iter >= batchesThisEpoch) break;
        const B = batch.labels.length;
        const mk = randomMasking(drawNoise(maskRng, B, model.numPatches), B, model.numPatches, model.lenKeep);
        const imgs = tf.tensor4d(batch.images, [B, cfg.model.imgSize, cfg.model.imgSize, 3]);
        const { value, grads } = tf.variableGrads(() => pretrainForward(model, imgs, mk).loss, vars);
        imgs.dispose();
        const lossVal = (await value.data())[0];
        value.dispose();
        if (!Number.isFinite(lossVal)) tf.dispose(grads);
        checkLoss(lossVal, { iteration: pos.iteration, epoch, batch: batch.iter, file: batch.files[0], workDir });
        accum.add(grads, lossVal);
        pos.batchInEpoch = batch.iter + 1;
        if (!accum.full) continue;

        // ---- optimizer step
        const stepLr = lrAt(pos.iteration, schedule, lr);
        const { grads: sum, loss } = accum.take();
        optimizer.step(sum, stepLr);
        tf.dispose([...sum.values()]);
        lastLoss = loss;
        epochLosses.push(lastLoss);
        pos.iteration++;
        if (pos.batchInEpoch >= batchesThisEpoch) {
          pos.epoch++;
          pos.batchInEpoch = 0;
        }
        const now = performance.now();
        const imgPerS = (effBatch * 1000) / (now - stepStart);
        stepStart = now;
        const entry: Record<string, number> = { iter: pos.iteration, epoch: pos.epoch, loss: lastLoss, lr: stepLr, img_per_s: imgPerS, tensors: tf.memory().numTensors };
        if (cfg.model.algorithm === 'mff') {
          const w = tf.tidy(() => fusionWeights(p).dataSync());
          w.forEach((x, i) => (entry[`weight_${i}`] = x));
        }
        if (pos.iteration % cfg.logInterval === 0 || pos.iteration === stopAt) metrics.append(entry);
        progress.update(pos.iteration, { loss: lastLoss.toFixed(4), lr: stepLr.toExponential(2), 'img/s': imgPerS.toFixed(1) });
        if (pos.iteration % cfg.checkpointInterval === 0 && pos.iteration < stopAt) saveResume();
        if (stop.requested) {
          interrupted = true;
          break outer;
        }
        if (pos.iteration >= stopAt) break outer;
        if (pos.epoch !== epoch) break;
      }
    }
  } catch (e) {
    optimizer.dispose();
    p.dispose();
    throw e;
  } finally {
    stop.dispose();
    accum.dispose();
  }
  progress.done();
  const wall = pos.elapsed + (performance.now() - t0) / 1000;
  const trainedSteps = pos.iteration - startIter;
  const imgPerS = trainedSteps > 0 ? (trainedSteps * effBatch) / ((performance.now() - t0) / 1000) : 0;

  if (interrupted || pos.iteration < totalIters) {
    saveResume();
    log(`[mff] saved resume state at iteration ${pos.iteration}/${totalIters}: continue with --resume`);
  }

  // ---- outputs
  const ckptFile = join(workDir, cfg.checkpointName);
  const fw = cfg.model.algorithm === 'mff' ? Array.from(tf.tidy(() => fusionWeights(p).dataSync())) : null;
  saveCheckpoint(ckptFile, p.toStateDict(), {
    format_version: 1,
    task: 'pretrain',
    config: cfg,
    iteration: pos.iteration,
    epoch: pos.epoch,
    metrics: { loss: lastLoss, ...(fw ? { fusion_weights: fw } : {}) },
  });
  if (!interrupted && pos.iteration >= totalIters && existsSync(join(workDir, 'resume.safetensors'))) {
    rmSync(join(workDir, 'resume.safetensors'));
  }

  const history = metrics.read();
  const lastEpochN = Math.min(itersPerEpoch, epochLosses.length);
  const loaderStats = loader.stats();
  const summary: PretrainSummary = {
    task: 'pretrain',
    algorithm: cfg.model.algorithm,
    config_file: opts.configFile ?? null,
    backend,
    checkpoint: ckptFile,
    dataset: { root: cfg.data.root, split: cfg.data.split, images: dataset.records.length, classes: dataset.classes.length },
    iterations: pos.iteration,
    total_iterations: totalIters,
    epochs: cfg.schedule.epochs,
    effective_batch: effBatch,
    lr,
    wall_time_s: wall,
    img_per_s: imgPerS,
    loader_img_per_s: loaderStats.seconds > 0 ? loaderStats.images / loaderStats.seconds : null,
    data_wait_s: loaderStats.waitSeconds,
    final_loss: lastLoss,
    mean_loss_last_epoch: lastEpochN ? epochLosses.slice(-lastEpochN).reduce((a, b) => a + b, 0) / lastEpochN : NaN,
    fusion_weights: fw ? fw.map((w, i) => ({ block: model.outIndices[i], weight: w })) : null,
    params: { total: p.numParams(), trainable: p.numParams(true) },
    interrupted,
  };
  await writePretrainReport(workDir, summary, history, model);
  log(`[mff] done: ${pos.iteration} iterations, loss ${lastLoss.toFixed(4)}, ${imgPerS.toFixed(1)} img/s; checkpoint ${ckptFile}`);
  optimizer.dispose();
  p.dispose();
  return summary;
}

async function writePretrainReport(workDir: string, s: PretrainSummary, history: Record<string, number>[], model: PretrainModel): Promise<void> {
  const fmt = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
  const sections: { title: string; table?: { header: string[]; rows: (string | number)[][] }; text?: string }[] = [
    {
      title: 'Run',
      table: {
        header: ['key', 'value'],
        rows: [
          ['algorithm', s.algorithm.toUpperCase()],
          ['config', s.config_file ?? '(object)'],
          ['encoder', `${model.arch.embedDims}-d × ${model.arch.numLayers} blocks × ${model.arch.numHeads} heads, patch ${model.cfg.patchSize}, ${model.cfg.imgSize}px`],
          ['dataset', `${s.dataset.root}/${s.dataset.split} (${s.dataset.images} images)`],
          ['iterations', `${s.iterations} / ${s.total_iterations}`],
          ['effective batch', s.effective_batch],
          ['lr (scaled)', s.lr.toExponential(3)],
          ['final loss', fmt(s.final_loss)],
          ['mean loss, last epoch', fmt(s.mean_loss_last_epoch)],
          ['wall time (s)', fmt(s.wall_time_s, 1)],
          ['img/s (train step)', fmt(s.img_per_s, 1)],
          ['img/s (loader, lower bound)', s.loader_img_per_s === null ? '-' : fmt(s.loader_img_per_s, 1)],
          ['data wait (s)', fmt(s.data_wait_s, 1)],
          ['backend', s.backend],
          ['checkpoint', s.checkpoint],
        ],
      },
    },
  ];
  if (s.fusion_weights) {
    sections.push({
      title: 'Fusion weights (softmax of backbone.proj_weights)',
      table: { header: ['tap', 'block', 'weight'], rows: s.fusion_weights.map((f, i) => [i, f.block, fmt(f.weight)]) },
    });
  }
  writeSummary(workDir, s as unknown as Record<string, unknown>, sections);
  const it = history.map((h) => h.iter);
  await linePlotPng(join(workDir, 'loss-curve.png'), {
    title: `${s.algorithm.toUpperCase()} pretraining loss`,
    xLabel: 'iteration',
    yLabel: 'norm-pix MSE (masked patches)',
    series: [{ name: 'loss', x: it, y: history.map((h) => h.loss) }],
  });
  if (s.fusion_weights) {
    await linePlotPng(join(workDir, 'fusion-weights.png'), {
      title: 'MFF fusion weights',
      xLabel: 'iteration',
      yLabel: 'softmax(proj_weights)',
      series: s.fusion_weights.map((f, i) => ({ name: `block ${f.block}`, x: it, y: history.map((h) => h[`weight_${i}`]) })),
    });
  }
}
