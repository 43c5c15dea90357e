/**
 * `mff cls-train`: ImageNet-style transfer of a pretrained ViT (mmpretrain configs/mff/benchmarks).
 *   finetune  AdamW + layer-wise lr decay, Mixup/CutMix (one per batch) + LabelSmoothLoss, drop path,
 *             RRC + flip + RandAugment + RandomErasing
 *   linear    frozen backbone, cls token -> BatchNorm1d(affine=False) -> Linear, LARS (or SGD), CrossEntropyLoss
 * Both: per-iteration LinearLR warmup + cosine to etaMin, validation every evalInterval epochs; the loop itself
 * (accumulation, NaN guard, stop signal, resume, metrics.jsonl) is train-loop.ts. Outputs: cls.ckpt (mmpretrain keys
 * + metadata), summary.json/md, loss and accuracy curves.
 */
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend/init.js';
import type { ClsConfig } from '../config/cls.js';
import { buildClassifier, clsForward, type BnUpdate, type ClsModel } from '../models/cls/classifier.js';
import { buildClsTrainTransform } from '../data/cls-transforms.js';
import { scanImageFolder } from '../data/imagenet.js';
import { badFilePolicy, type BadFiles } from '../data/bad-files.js';
import { preflightImageFolder } from '../data/preflight.js';
import type { Batch } from '../data/loader.js';
import { checkClasses, evaluate } from '../eval/cls-eval.js';
import type { ClsMetrics } from '../eval/cls-metrics.js';
import { Rng } from '../io/rng.js';
import { saveCheckpoint } from '../io/checkpoint.js';
import { epochWarmupCosine } from './schedule.js';
import { epochRunData } from './epoch-run.js';
import { crossEntropy, labelSmoothLoss, oneHot, softCrossEntropy } from './cls-loss.js';
import { randomBatchAugment, type BatchAugmentCfg } from './mixup.js';
import type { MetricsLog } from './log.js';
import { linePlotPng } from './plot.js';
import { writeSummary } from './summary.js';
import { gradsByName, logger, loopReportRows, loopSummary, trainLoop, type TrainStep } from './train-loop.js';
import { clsReportSections } from './run-cls-eval.js';
import { buildClsOptimizer, clsTrainPipeline, loadClsPretrained } from './cls-setup.js';

export { runClsEval, type ClsEvalOptions, type ClsEvalSummary } from './run-cls-eval.js';

export interface RunClsOptions {
  backend?: BackendName;
  resume?: boolean;
  configFile?: string;
  /** Print nothing but errors (no progress line either). */
  quiet?: boolean;
  /** Train even if the work dir holds a finished or interrupted run. */
  force?: boolean;
  /** Skip unreadable images (counted in the summary) instead of stopping. */
  skipBadFiles?: boolean;
  /** A line from the command to log after the engine line (e.g. the ViT adopted from the backbone checkpoint). */
  note?: string | null;
}

export type ClsTrainSummary = ReturnType<typeof loopSummary> & {
  task: 'cls';
  mode: 'finetune' | 'linear';
  config_file: string | null;
  backend: string;
  checkpoint: string;
  pretrained: string | null;
  dataset: { root: string; train_images: number; val_images: number; classes: number };
  epochs: number;
  lr: number;
  loader_img_per_s: number | null;
  data_wait_s: number;
  'accuracy/top1': number;
  'accuracy/top5': number;
  topk: [number, number];
  mean_class_accuracy: number;
  per_class: { label: number; class: string; images: number; top1: number }[];
  params: { total: number; trainable: number };
  bad_files: ReturnType<BadFiles['summary']>;
};

export async function runClsTrain(cfg: ClsConfig, opts: RunClsOptions = {}): Promise<ClsTrainSummary> {
  const backend = await initBackend(opts.backend, { quiet: opts.quiet });
  const log = logger(opts.quiet);
  if (opts.note) log(`[mff] ${opts.note}`);
  cfg = structuredClone(cfg);
  const workDir = resolve(cfg.workDir);
  const mode = cfg.model.mode;

  // ---- data
  const bad = badFilePolicy(opts.skipBadFiles, log);
  const train = await preflightImageFolder(scanImageFolder(resolve(cfg.data.root), cfg.data.trainSplit, { bad }), bad);
  const val = await preflightImageFolder(scanImageFolder(resolve(cfg.data.root), cfg.data.valSplit, { bad }), bad);
  checkClasses(val, train.classes.length, train.classes, `${cfg.data.root}/${cfg.data.trainSplit}`);
  if (cfg.model.numClasses === 0) cfg.model.numClasses = train.classes.length;
  checkClasses(train, cfg.model.numClasses, null, `the config (model.numClasses)`);
  const trainT = buildClsTrainTransform(clsTrainPipeline(cfg), cfg.data.mean, cfg.data.std);
  const { loader, itersPerEpoch, totalIters, effectiveBatch: effBatch, lr } = epochRunData(cfg, train, async (img, rng) => trainT(img, rng), bad);
  const K = cfg.model.numClasses;
  const S = cfg.model.imgSize;
  const augments: BatchAugmentCfg[] = [];
  if (mode === 'finetune' && cfg.batchAugments.mixupAlpha > 0) augments.push({ type: 'mixup', alpha: cfg.batchAugments.mixupAlpha });
  if (mode === 'finetune' && cfg.batchAugments.cutmixAlpha > 0) augments.push({ type: 'cutmix', alpha: cfg.batchAugments.cutmixAlpha, correctLam: true });

  // ---- model + optimizer
  const rootRng = new Rng(cfg.seed);
  const model = buildClassifier(cfg.model, rootRng.fork());
  const dropRng = rootRng.fork();
  const mixRng = rootRng.fork();
  const p = model.params;
  const { optimizer, names } = buildClsOptimizer(cfg, model, lr);

  // ---- one micro-batch: batch augment (fine-tune: one of Mixup / CutMix on images and one-hot targets), forward, loss
  const step = (batch: Batch): TrainStep => {
    const B = batch.labels.length;
    let images = batch.images;
    let targets: Float32Array | null = null;
    if (augments.length) {
      const mixed = randomBatchAugment({ imgs: images, shape: [B, S, S, 3], targets: oneHot(batch.labels, K), numClasses: K }, augments, mixRng);
      images = mixed.imgs;
      targets = mixed.targets;
    }
    const imgs = tf.tensor4d(images, [B, S, S, 3]);
    const tgt = targets ? tf.tensor2d(targets, [B, K]) : null; // [B, K] soft targets
    let bn: BnUpdate | undefined;
    try {
      const { loss, grads } = gradsByName(p, names, () => {
        const out = clsForward(model, imgs, { train: true, rng: dropRng });
        bn = out.bnUpdate;
        if (mode === 'linear') return crossEntropy(out.logits, batch.labels);
        if (cfg.labelSmooth > 0) return labelSmoothLoss(out.logits, tgt ?? batch.labels, { smooth: cfg.labelSmooth });
        return tgt ? softCrossEntropy(out.logits, tgt) : crossEntropy(out.logits, batch.labels);
      });
      const b = bn as BnUpdate | undefined;
      const bnUpdates = b
        ? new Map<string, tf.Tensor>([['neck.bn.running_mean', b.runningMean], ['neck.bn.running_var', b.runningVar], ['neck.bn.num_batches_tracked', b.numBatchesTracked]])
        : undefined;
      return { loss, grads, bnUpdates };
    } finally {
      tf.dispose([imgs, tgt ?? []]);
    }
  };

  let lastEval: { iter: number; m: ClsMetrics } | null = null;
  const validate = async (iter: number, epoch: number, metrics: MetricsLog): Promise<ClsMetrics> => {
    const { metrics: vm } = await evaluate(model, cfg, val, { batchSize: Math.min(cfg.batchSize, 256), bad });
    metrics.append({ iter, epoch, 'val/top1': vm.top1, 'val/top5': vm.top5, 'val/mean_class_accuracy': vm.meanClassAccuracy });
    log(`[mff] epoch ${epoch} (iteration ${iter}): val top-1 ${vm.top1.toFixed(2)}  top-${vm.topk[1]} ${vm.top5.toFixed(2)}`);
    lastEval = { iter, m: vm };
    return vm;
  };

  return trainLoop({
    task: 'cls', label: mode, workDir, config: cfg, params: p, optimizer, rngs: { drop: dropRng, mix: mixRng },
    batches: (epoch, start) => loader.batches(epoch, start),
    itersPerEpoch, accumSteps: cfg.accumSteps, effectiveBatch: effBatch, schedule: epochWarmupCosine(cfg.schedule, itersPerEpoch), baseLr: lr,
    totalIters, maxIters: cfg.maxIters, logInterval: cfg.logInterval, checkpointInterval: cfg.checkpointInterval,
    resume: opts.resume, force: opts.force, quiet: opts.quiet, log, step,
    onFreshStart: () => {
      if (cfg.pretrained) log(`[mff] ${loadClsPretrained(model, resolve(cfg.pretrained))}`);
      else log('[mff] no pretrained backbone (pretrained: \'\'): training from random init');
    },
    describe: () =>
      `[mff] ${mode} ${model.arch.embedDims}-d × ${model.arch.numLayers} blocks, ${K} classes, ${(p.numParams(true) / 1e6).toFixed(3)}M trainable params; ` +
      `${train.records.length} train / ${val.records.length} val images (${cfg.data.root}); ${itersPerEpoch} it/epoch × ${cfg.schedule.epochs} epochs; ` +
      `batch ${cfg.batchSize}×${cfg.accumSteps}; ${cfg.optim.type} lr ${lr.toExponential(3)}`,
    validate: async ({ pos, epochEnded, metrics }) => {
      if (epochEnded && (pos.epoch === cfg.schedule.epochs || (cfg.evalInterval > 0 && pos.epoch % cfg.evalInterval === 0))) await validate(pos.iteration, pos.epoch, metrics);
    },
  }, async (r) => {
    const prev = lastEval as { iter: number; m: ClsMetrics } | null;
    const final = prev && prev.iter === r.pos.iteration ? prev.m : await validate(r.pos.iteration, r.pos.epoch, r.metrics);
    const ckptFile = join(workDir, cfg.checkpointName);
    saveCheckpoint(ckptFile, p.toStateDict(), {
      format_version: 1, task: 'cls', config: cfg, classes: train.classes, iteration: r.pos.iteration, epoch: r.pos.epoch,
      metrics: { loss: r.finalLoss, 'accuracy/top1': final.top1, 'accuracy/top5': final.top5 },
    });
    const ls = loader.stats();
    const summary: ClsTrainSummary = {
      task: 'cls', mode, config_file: opts.configFile ?? null, backend, checkpoint: ckptFile, pretrained: cfg.pretrained || null,
      dataset: { root: cfg.data.root, train_images: train.records.length, val_images: val.records.length, classes: K },
      ...loopSummary(r, effBatch),
      epochs: cfg.schedule.epochs, lr,
      loader_img_per_s: ls.seconds > 0 ? ls.images / ls.seconds : null,
      data_wait_s: ls.waitSeconds,
      'accuracy/top1': final.top1,
      'accuracy/top5': final.top5,
      topk: final.topk,
      mean_class_accuracy: final.meanClassAccuracy,
      per_class: final.perClass.map((c) => ({ label: c.label, class: c.name, images: c.images, top1: c.top1 })),
      params: { total: p.numParams(), trainable: p.numParams(true) },
      bad_files: bad.summary(),
    };
    await writeClsReport(workDir, summary, final, r.metrics.read(), model);
    log(`[mff] done: ${r.pos.iteration} iterations, val top-1 ${final.top1.toFixed(2)}, top-${final.topk[1]} ${final.top5.toFixed(2)}, ${summary.img_per_s.toFixed(1)} img/s; checkpoint ${ckptFile}`);
    return summary;
  });
}

async function writeClsReport(workDir: string, s: ClsTrainSummary, m: ClsMetrics, history: Record<string, number>[], model: ClsModel): Promise<void> {
  const run: [string, string | number][] = [
    ['mode', s.mode],
    ['config', s.config_file ?? '(object)'],
    ['backbone', `${model.arch.embedDims}-d × ${model.arch.numLayers} blocks × ${model.arch.numHeads} heads, patch ${model.cfg.patchSize}, ${model.cfg.imgSize}px`],
    ['pretrained', s.pretrained ?? '(none)'],
    ['dataset', `${s.dataset.root} (${s.dataset.train_images} train / ${s.dataset.val_images} val, ${s.dataset.classes} classes)`],
    ...loopReportRows(s),
    ['lr (scaled)', s.lr.toExponential(3)],
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
  // one validation is a table row (summary.md), not a curve
  const evals = history.filter((h) => typeof h['val/top1'] === 'number');
  if (evals.length < 2) return;
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
