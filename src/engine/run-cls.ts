/**
 * `mff cls-train`: ImageNet-style transfer of a pretrained ViT (mmpretrain configs/mff/benchmarks).
 *   finetune  AdamW + layer-wise lr decay, Mixup/CutMix (one per batch) + LabelSmoothLoss, drop path,
 *             RRC + flip + RandAugment + RandomErasing
 *   linear    frozen backbone, cls token -> BatchNorm1d(affine=False) -> Linear, LARS (or SGD), CrossEntropyLoss
 * Both: per-iteration LinearLR warmup + cosine to etaMin, gradient accumulation, NaN guard, SIGINT save, resume,
 * validation every evalInterval epochs, cls.ckpt (mmpretrain keys + metadata), metrics.jsonl, summary, curves.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend.js';
import type { ClsConfig } from '../config/cls.js';
import { applyBnUpdate, buildClassifier, clsForward, loadBackboneFromCheckpoint, type ClsModel } from '../models/cls/classifier.js';
import { buildClsTrainTransform, FINETUNE_ERASING, FINETUNE_RANDAUG, type ClsTrainPipeline } from '../data/cls-transforms.js';
import { scanImageFolder } from '../data/imagenet.js';
import { BatchLoader } from '../data/loader.js';
import { checkClasses, clsReportSections, evaluate } from '../eval/cls-eval.js';
import type { ClsMetrics } from '../eval/cls-metrics.js';
import { Rng } from '../io/rng.js';
import { loadCheckpoint, saveCheckpoint, writeFileAtomic } from '../io/checkpoint.js';
import { restoreRun, saveResumeState, type LoopPosition } from '../io/train-state.js';
import { GradAccumulator, StopSignal, checkLoss } from './loop.js';
import { createOptimizer, type GroupSettings, type OptimizerSpec } from './optim.js';
import { mmpretrainLayerDecayGroups } from './param-groups.js';
import { groupLr, lrAt, type ScheduleSpec } from './schedule.js';
import { crossEntropy, labelSmoothLoss, oneHot, softCrossEntropy } from './cls-loss.js';
import { randomBatchAugment, type BatchAugmentCfg } from './mixup.js';
import { Progress } from './progress.js';
import { MetricsLog } from './log.js';
import { linePlotPng } from './plot.js';
import { writeSummary } from './summary.js';

export { runClsEval, type ClsEvalOptions, type ClsEvalSummary } from '../eval/cls-eval.js';

export interface RunClsOptions {
  backend?: BackendName;
  resume?: boolean;
  configFile?: string;
  quiet?: boolean;
}

export interface ClsTrainSummary {
  task: 'cls';
  mode: 'finetune' | 'linear';
  config_file: string | null;
  backend: string;
  checkpoint: string;
  pretrained: string | null;
  dataset: { root: string; train_images: number; val_images: number; classes: number };
  iterations: number;
  total_iterations: number;
  epochs: number;
  effective_batch: number;
  lr: number;
  final_loss: number;
  'accuracy/top1': number;
  'accuracy/top5': number;
  topk: [number, number];
  mean_class_accuracy: number;
  per_class: { label: number; class: string; images: number; top1: number }[];
  wall_time_s: number;
  img_per_s: number;
  params: { total: number; trainable: number };
  interrupted: boolean;
}

const SILENT = { write: () => true };

/** LinearLR warmup over warmupEpochs, then cosine to etaMin, in optimizer steps. */
export function clsSchedule(cfg: ClsConfig, itersPerEpoch: number): ScheduleSpec {
  const total = cfg.schedule.epochs * itersPerEpoch;
  const warm = Math.min(Math.round(cfg.schedule.warmupEpochs * itersPerEpoch), total);
  const phases: ScheduleSpec[number][] = [];
  if (warm > 0) phases.push({ type: 'LinearLR', begin: 0, end: warm, startFactor: cfg.schedule.warmupStartFactor });
  if (total > warm) phases.push({ type: 'CosineAnnealingLR', begin: warm, end: total, etaMin: cfg.schedule.etaMin });
  return phases;
}

export function clsTrainPipeline(cfg: ClsConfig): ClsTrainPipeline {
  const p = cfg.data.trainPipeline;
  if (p.kind === 'linear') return { kind: 'linear', size: p.size, scale: p.scale, flipProb: p.flipProb };
  return {
    kind: 'finetune',
    size: p.size,
    scale: p.scale,
    flipProb: p.flipProb,
    randAugment: p.randAugment ? FINETUNE_RANDAUG : null,
    erasing: p.erasingProb > 0 ? { ...FINETUNE_ERASING, prob: p.erasingProb } : null,
  };
}

/** Optimizer + per-parameter groups: fine-tune = mmpretrain layer decay with no decay for norms/biases/tokens. */
function buildOptimizer(cfg: ClsConfig, m: ClsModel, lr: number) {
  const p = m.params;
  const names = p.trainableNames();
  const o = cfg.optim;
  let groups: Map<string, GroupSettings>;
  if (cfg.model.mode === 'finetune') {
    const shapes = new Map(names.map((n) => [n, p.get(n).shape]));
    groups = mmpretrainLayerDecayGroups(names, shapes, {
      numLayers: m.arch.numLayers,
      layerDecayRate: o.layerDecayRate,
      weightDecay: o.weightDecay,
      baseLr: lr,
      normDecayMult: 0,
      biasDecayMult: 0,
      flatDecayMult: 0,
      customKeys: { '.ln': { decayMult: 0 }, '.bias': { decayMult: 0 }, '.cls_token': { decayMult: 0 }, '.pos_embed': { decayMult: 0 } },
    });
  } else {
    groups = new Map(names.map((n) => [n, { lrScale: 1, weightDecay: o.weightDecay }]));
  }
  const spec: OptimizerSpec =
    o.type === 'AdamW' ? { type: 'AdamW', betas: o.betas, eps: o.eps } : o.type === 'LARS' ? { type: 'LARS', momentum: o.momentum } : { type: 'SGD', momentum: o.momentum };
  return { optimizer: createOptimizer(spec, p, groups), names };
}

/** Load `cfg.pretrained` into the backbone and describe what happened in one line. Unfit shapes throw. */
function loadPretrained(m: ClsModel, file: string): string {
  if (!existsSync(file)) throw new Error(`${file}: backbone checkpoint not found`);
  const ck = loadCheckpoint(file);
  const r = loadBackboneFromCheckpoint(m, ck.tensors, { file });
  // a final norm of the other mode (ln2 of a fine-tuned classifier when probing) is skipped, as strict=False does
  const alien = r.unexpected.filter((k) => !/^backbone\.ln\d\./.test(k));
  if (alien.length) {
    throw new Error(`${file}: backbone keys the model does not have: ${alien.slice(0, 6).join(', ')}${alien.length > 6 ? ', ...' : ''} (is model.arch right?)`);
  }
  const lostBlocks = r.missing.filter((n) => n.startsWith('backbone.layers.') || n.startsWith('backbone.patch_embed'));
  if (lostBlocks.length) {
    throw new Error(`${file}: has no weights for ${lostBlocks.slice(0, 4).join(', ')}${lostBlocks.length > 4 ? ', ...' : ''} (the checkpoint has fewer blocks than model.arch?)`);
  }
  const pe = r.posEmbedResized ? `; pos_embed resized ${r.posEmbedResized.from.join('x')} -> ${r.posEmbedResized.to.join('x')}` : '';
  return `loaded ${r.loaded.length} backbone tensors from ${file} (${String(ck.meta?.task ?? 'state dict')}); missing [${r.missing.join(', ')}]; unexpected [${r.unexpected.join(', ')}]; dropped ${r.dropped.length} (decoder/fusion/head)${pe}`;
}

export async function runClsTrain(cfg: ClsConfig, opts: RunClsOptions = {}): Promise<ClsTrainSummary> {
  const backend = await initBackend(opts.backend, { quiet: opts.quiet });
  const log = (msg: string) => {
    if (!opts.quiet) console.error(msg);
  };
  cfg = structuredClone(cfg);
  const workDir = resolve(cfg.workDir);
  mkdirSync(workDir, { recursive: true });
  const mode = cfg.model.mode;

  // ---- data
  const train = scanImageFolder(resolve(cfg.data.root), cfg.data.trainSplit);
  const val = scanImageFolder(resolve(cfg.data.root), cfg.data.valSplit);
  checkClasses(val, train.classes.length, train.classes, `${cfg.data.root}/${cfg.data.trainSplit}`);
  if (cfg.model.numClasses === 0) cfg.model.numClasses = train.classes.length;
  checkClasses(train, cfg.model.numClasses, null, `the config (model.numClasses)`);
  const trainT = buildClsTrainTransform(clsTrainPipeline(cfg), cfg.data.mean, cfg.data.std);
  const loader = new BatchLoader({
    dataset: train,
    batchSize: cfg.batchSize,
    transform: async (img, rng) => trainT(img, rng),
    seed: cfg.seed,
    shuffle: true,
    dropLast: true,
    concurrency: cfg.data.concurrency,
    prefetch: cfg.data.prefetch,
  });
  const itersPerEpoch = Math.floor(loader.iterationsPerEpoch() / cfg.accumSteps);
  if (itersPerEpoch < 1) {
    throw new Error(`${cfg.data.root}: ${train.records.length} images give no full optimizer step of batchSize ${cfg.batchSize} × accumSteps ${cfg.accumSteps}`);
  }
  const totalIters = cfg.schedule.epochs * itersPerEpoch;
  const schedule = clsSchedule(cfg, itersPerEpoch);
  const effBatch = cfg.batchSize * cfg.accumSteps;
  const lr = (cfg.optim.baseLr * effBatch) / 256;
  const K = cfg.model.numClasses;
  const augments: BatchAugmentCfg[] = [];
  if (mode === 'finetune' && cfg.batchAugments.mixupAlpha > 0) augments.push({ type: 'mixup', alpha: cfg.batchAugments.mixupAlpha });
  if (mode === 'finetune' && cfg.batchAugments.cutmixAlpha > 0) augments.push({ type: 'cutmix', alpha: cfg.batchAugments.cutmixAlpha, correctLam: true });

  // ---- model + optimizer
  const rootRng = new Rng(cfg.seed);
  const model = buildClassifier(cfg.model, rootRng.fork());
  const dropRng = rootRng.fork();
  const mixRng = rootRng.fork();
  const p = model.params;
  const { optimizer, names } = buildOptimizer(cfg, model, lr);
  const cleanup = () => {
    optimizer.dispose();
    p.dispose();
  };

  let pos: LoopPosition = { iteration: 0, epoch: 0, batchInEpoch: 0, rng: {}, elapsed: 0 };
  const metrics = new MetricsLog(join(workDir, 'metrics.jsonl'));
  try {
    const restored = restoreRun({
      workDir, task: 'cls', resume: Boolean(opts.resume), params: p, optimizer, rngs: { drop: dropRng, mix: mixRng }, metrics, log, total: totalIters,
    });
    if (restored) pos = restored;
    else {
      if (cfg.pretrained) log(`[mff] ${loadPretrained(model, resolve(cfg.pretrained))}`);
      else log('[mff] no pretrained backbone (pretrained: \'\'): training from random init');
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  writeFileAtomic(join(workDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  log(
    `[mff] ${mode} ${model.arch.embedDims}-d × ${model.arch.numLayers} blocks, ${K} classes, ${(p.numParams(true) / 1e6).toFixed(3)}M trainable params; ` +
      `${train.records.length} train / ${val.records.length} val images (${cfg.data.root}); ${itersPerEpoch} it/epoch × ${cfg.schedule.epochs} epochs; ` +
      `batch ${cfg.batchSize}×${cfg.accumSteps}; ${cfg.optim.type} lr ${lr.toExponential(3)}`,
  );

  const stopAt = cfg.maxIters > 0 ? Math.min(cfg.maxIters, totalIters) : totalIters;
  const vars = names.map((n) => p.get(n));
  const varToName = new Map(vars.map((v, i) => [v.name, names[i]]));
  const stop = new StopSignal(log);
  const t0 = performance.now();
  const saveResume = () =>
    saveResumeState(workDir, 'cls', cfg, p.toStateDict(), optimizer.state(), {
      ...pos,
      rng: { drop: dropRng.getState(), mix: mixRng.getState() },
      elapsed: pos.elapsed + (performance.now() - t0) / 1000,
    });
  const validate = async (): Promise<ClsMetrics> => {
    const { metrics: vm } = await evaluate(model, cfg, val, { batchSize: Math.min(cfg.batchSize, 256), quiet: true });
    metrics.append({ iter: pos.iteration, epoch: pos.epoch, 'val/top1': vm.top1, 'val/top5': vm.top5, 'val/mean_class_accuracy': vm.meanClassAccuracy });
    log(`[mff] epoch ${pos.epoch} (iteration ${pos.iteration}): val top-1 ${vm.top1.toFixed(2)}  top-${vm.topk[1]} ${vm.top5.toFixed(2)}`);
    return vm;
  };

  const progress = new Progress({ total: stopAt, every: cfg.logInterval, label: mode, startIter: pos.iteration, stream: opts.quiet ? SILENT : undefined });
  const startIter = pos.iteration;
  const S = cfg.model.imgSize;
  let lastLoss = NaN;
  let lastEval: { iter: number; m: ClsMetrics } | null = null;
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
        // ---- batch augment (fine-tune): one of Mixup / CutMix on images and one-hot targets
        let images = batch.images;
        let targets: Float32Array | null = null;
        if (augments.length) {
          const mixed = randomBatchAugment({ imgs: images, shape: [B, S, S, 3], targets: oneHot(batch.labels, K), numClasses: K }, augments, mixRng);
          images = mixed.imgs;
          targets = mixed.targets;
        }
        const imgs = tf.tensor4d(images, [B, S, S, 3]);
        const tgt = targets ? tf.tensor2d(targets, [B, K]) : null;
        let bnUpdate: ReturnType<typeof clsForward>['bnUpdate'];
        const { value, grads } = tf.variableGrads(() => {
          const out = clsForward(model, imgs, { train: true, rng: dropRng });
          bnUpdate = out.bnUpdate;
          if (mode === 'linear') return crossEntropy(out.logits, batch.labels);
          if (cfg.labelSmooth > 0) return labelSmoothLoss(out.logits, tgt ?? batch.labels, { smooth: cfg.labelSmooth });
          return tgt ? softCrossEntropy(out.logits, tgt) : crossEntropy(out.logits, batch.labels);
        }, vars);
        tf.dispose([imgs, tgt ?? []]);
        if (bnUpdate) applyBnUpdate(model, bnUpdate);
        const lossVal = (await value.data())[0];
        value.dispose();
        if (!Number.isFinite(lossVal)) tf.dispose(grads);
        checkLoss(lossVal, { iteration: pos.iteration, epoch, batch: batch.iter, file: batch.files[0], workDir });
        accum.add(grads, lossVal);
        pos.batchInEpoch = batch.iter + 1;
        if (!accum.full) continue;

        // ---- optimizer step (per-group lr: layer decay scales the base lr, etaMin is absolute)
        const stepLr = lrAt(pos.iteration, schedule, lr);
        const { grads: sum, loss } = accum.take();
        optimizer.step(sum, groupLr(pos.iteration, schedule, lr));
        tf.dispose([...sum.values()]);
        lastLoss = loss;
        pos.iteration++;
        if (pos.batchInEpoch >= batchesThisEpoch) {
          pos.epoch++;
          pos.batchInEpoch = 0;
        }
        const now = performance.now();
        const imgPerS = (effBatch * 1000) / (now - stepStart);
        stepStart = now;
        if (pos.iteration % cfg.logInterval === 0 || pos.iteration === stopAt) {
          metrics.append({ iter: pos.iteration, epoch: pos.epoch, loss: lastLoss, lr: stepLr, img_per_s: imgPerS, tensors: tf.memory().numTensors });
        }
        progress.update(pos.iteration, { loss: lastLoss.toFixed(4), lr: stepLr.toExponential(2), 'img/s': imgPerS.toFixed(1) });
        if (pos.epoch !== epoch && (pos.epoch === cfg.schedule.epochs || (cfg.evalInterval > 0 && pos.epoch % cfg.evalInterval === 0))) {
          lastEval = { iter: pos.iteration, m: await validate() };
        }
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
    cleanup();
    throw e;
  } finally {
    accum.dispose();
    stop.dispose();
  }
  progress.done();
  const trainSeconds = (performance.now() - t0) / 1000;
  const trained = pos.iteration - startIter;
  if (interrupted || pos.iteration < totalIters) {
    saveResume();
    log(`[mff] saved resume state at iteration ${pos.iteration}/${totalIters}: continue with --resume`);
  }
  try {
    const final = lastEval && lastEval.iter === pos.iteration ? lastEval.m : await validate();
    const ckptFile = join(workDir, cfg.checkpointName);
    saveCheckpoint(ckptFile, p.toStateDict(), {
      format_version: 1,
      task: 'cls',
      config: cfg,
      classes: train.classes,
      iteration: pos.iteration,
      epoch: pos.epoch,
      metrics: { loss: lastLoss, 'accuracy/top1': final.top1, 'accuracy/top5': final.top5 },
    });
    if (!interrupted && pos.iteration >= totalIters && existsSync(join(workDir, 'resume.safetensors'))) rmSync(join(workDir, 'resume.safetensors'));
    const summary: ClsTrainSummary = {
      task: 'cls',
      mode,
      config_file: opts.configFile ?? null,
      backend,
      checkpoint: ckptFile,
      pretrained: cfg.pretrained || null,
      dataset: { root: cfg.data.root, train_images: train.records.length, val_images: val.records.length, classes: K },
      iterations: pos.iteration,
      total_iterations: totalIters,
      epochs: cfg.schedule.epochs,
      effective_batch: effBatch,
      lr,
      final_loss: lastLoss,
      'accuracy/top1': final.top1,
      'accuracy/top5': final.top5,
      topk: final.topk,
      mean_class_accuracy: final.meanClassAccuracy,
      per_class: final.perClass.map((c) => ({ label: c.label, class: c.name, images: c.images, top1: c.top1 })),
      wall_time_s: pos.elapsed + trainSeconds,
      img_per_s: trained > 0 ? (trained * effBatch) / trainSeconds : 0,
      params: { total: p.numParams(), trainable: p.numParams(true) },
      interrupted,
    };
    await writeClsReport(workDir, summary, final, metrics.read(), model);
    log(`[mff] done: ${pos.iteration} iterations, val top-1 ${final.top1.toFixed(2)}, top-${final.topk[1]} ${final.top5.toFixed(2)}; checkpoint ${ckptFile}`);
    return summary;
  } finally {
    cleanup();
  }
}

async function writeClsReport(workDir: string, s: ClsTrainSummary, m: ClsMetrics, history: Record<string, number>[], model: ClsModel): Promise<void> {
  const run: [string, string | number][] = [
    ['mode', s.mode],
    ['config', s.config_file ?? '(object)'],
    ['backbone', `${model.arch.embedDims}-d × ${model.arch.numLayers} blocks × ${model.arch.numHeads} heads, patch ${model.cfg.patchSize}, ${model.cfg.imgSize}px`],
    ['pretrained', s.pretrained ?? '(none)'],
    ['dataset', `${s.dataset.root} (${s.dataset.train_images} train / ${s.dataset.val_images} val, ${s.dataset.classes} classes)`],
    ['iterations', `${s.iterations} / ${s.total_iterations}`],
    ['effective batch', s.effective_batch],
    ['lr (scaled)', s.lr.toExponential(3)],
    ['final loss', Number.isFinite(s.final_loss) ? s.final_loss.toFixed(4) : String(s.final_loss)],
    ['wall time (s)', s.wall_time_s.toFixed(1)],
    ['img/s (train)', s.img_per_s.toFixed(1)],
    ['backend', s.backend],
    ['checkpoint', s.checkpoint],
  ];
  writeSummary(workDir, s as unknown as Record<string, unknown>, clsReportSections(m, run), { title: `Classification ${s.mode}` });
  const steps = history.filter((h) => typeof h.loss === 'number');
  await linePlotPng(join(workDir, 'loss-curve.png'), {
    title: `${s.mode} training loss`,
    xLabel: 'iteration',
    yLabel: s.mode === 'finetune' ? 'label-smoothed soft CE' : 'cross entropy',
    series: [{ name: 'loss', x: steps.map((h) => h.iter), y: steps.map((h) => h.loss) }],
  });
  const evals = history.filter((h) => typeof h['val/top1'] === 'number');
  await linePlotPng(join(workDir, 'accuracy-curve.png'), {
    title: `${s.mode} validation accuracy`,
    xLabel: 'iteration',
    yLabel: 'accuracy (%)',
    series: [
      { name: 'top-1', x: evals.map((h) => h.iter), y: evals.map((h) => h['val/top1']) },
      { name: `top-${s.topk[1]}`, x: evals.map((h) => h.iter), y: evals.map((h) => h['val/top5']) },
    ],
  });
}
