/**
 * `mff pretrain`: MFF / MAE pretraining. Wires the data loader, the model, AdamW with mmpretrain's no-decay rules
 * and the per-iteration LinearLR warmup + cosine into the training loop (train-loop.ts), then writes the outputs:
 * checkpoint (safetensors, mmpretrain keys), summary.json/md, loss-curve.png, fusion-weights.png.
 */
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend/init.js';
import type { PretrainConfig } from '../config/pretrain.js';
import { buildPretrainModel, drawNoise, pretrainForward, randomMasking, type PretrainModel } from '../models/mae.js';
import { fusionWeights } from '../models/mff.js';
import { Rng } from '../io/rng.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { scanImageFolder } from '../data/imagenet.js';
import { badFilePolicy, type BadFiles } from '../data/bad-files.js';
import { preflightImageFolder } from '../data/preflight.js';
import { buildPretrainTransform } from '../data/transforms.js';
import { createOptimizer } from './optim.js';
import { pretrainParamGroups } from './param-groups.js';
import { epochWarmupCosine } from './schedule.js';
import { epochRunData } from './epoch-run.js';
import { gradsByName, logger, loopReportRows, loopSummary, trainLoop } from './train-loop.js';
import { linePlotPng } from './plot.js';
import { loadReconImages, reconGridWriter } from './recon.js';
import { formatNumber as fmt, writeSummary } from './summary.js';

export interface RunPretrainOptions {
  backend?: BackendName;
  /** Continue from `<workDir>/resume.safetensors` if present. */
  resume?: boolean;
  /** Where the config came from (recorded in the summary). */
  configFile?: string;
  /** Print nothing but errors (no progress line either). */
  quiet?: boolean;
  /** Initialise the weights from a checkpoint (ours, or an mmpretrain state dict converted from a .pth); strict. */
  loadFrom?: string;
  /** Train even if the work dir holds a finished or interrupted run. */
  force?: boolean;
  /** Skip unreadable images (counted in the summary) instead of stopping. */
  skipBadFiles?: boolean;
}

export type PretrainSummary = ReturnType<typeof loopSummary> & {
  task: 'pretrain';
  algorithm: 'mff' | 'mae';
  config_file: string | null;
  backend: string;
  checkpoint: string;
  dataset: { root: string; split: string; images: number; classes: number };
  epochs: number;
  lr: number;
  /** images / seconds with a load task in flight: a lower bound, the model step shares the main thread */
  loader_img_per_s: number | null;
  /** seconds the training loop waited for a batch (input-pipeline stall) */
  data_wait_s: number;
  mean_loss_last_epoch: number;
  fusion_weights: { block: number; weight: number }[] | null;
  params: { total: number; trainable: number };
  bad_files: ReturnType<BadFiles['summary']>;
};

export async function runPretrain(cfg: PretrainConfig, opts: RunPretrainOptions = {}): Promise<PretrainSummary> {
  const backend = await initBackend(opts.backend, { quiet: opts.quiet });
  const log = logger(opts.quiet);
  const workDir = resolve(cfg.workDir);

  // ---- data
  const bad = badFilePolicy(opts.skipBadFiles, log);
  const dataset = await preflightImageFolder(scanImageFolder(resolve(cfg.data.root), cfg.data.split, { annFile: cfg.data.annFile, bad }), bad);
  const { loader, itersPerEpoch, totalIters, effectiveBatch: effBatch, lr } = epochRunData(cfg, dataset, buildPretrainTransform(cfg.data.pipeline, cfg.data.mean, cfg.data.std), bad);
  // the reconstruction grid's fixed images, loaded before training: a bad one stops (or is skipped) now, not at the end
  const reconImages = await loadReconImages(cfg, undefined, bad);

  // ---- model + optimizer
  const rootRng = new Rng(cfg.seed);
  const model = buildPretrainModel(cfg.model, rootRng.fork());
  const maskRng = rootRng.fork();
  const p = model.params;
  const names = p.trainableNames();
  const optimizer = createOptimizer({ type: 'AdamW', betas: cfg.optim.betas, eps: cfg.optim.eps }, p, pretrainParamGroups(names, { weightDecay: cfg.optim.weightDecay }));
  const isMff = cfg.model.algorithm === 'mff';
  const weights = () => Array.from(tf.tidy(() => fusionWeights(p).dataSync()));
  // reconstruction grids of fixed val images: every reconInterval epochs and at the end (recon/epoch_K.png)
  const drawRecon = reconGridWriter(cfg, model, reconImages);
  const reconFile = (pos: { epoch: number; iteration: number; batchInEpoch: number }) =>
    join(workDir, 'recon', pos.batchInEpoch === 0 ? `epoch_${pos.epoch}.png` : `iter_${pos.iteration}.png`);
  const reconTitle = (pos: { epoch: number; iteration: number }) => `${cfg.model.algorithm.toUpperCase()} ViT, epoch ${pos.epoch} (iteration ${pos.iteration})`;

  return trainLoop({
    task: 'pretrain', label: 'pretrain', workDir, config: cfg, params: p, optimizer, rngs: { mask: maskRng },
    batches: (epoch, start) => loader.batches(epoch, start),
    itersPerEpoch, accumSteps: cfg.accumSteps, effectiveBatch: effBatch, schedule: epochWarmupCosine(cfg.schedule, itersPerEpoch), baseLr: lr,
    totalIters, maxIters: cfg.maxIters, logInterval: cfg.logInterval, checkpointInterval: cfg.checkpointInterval,
    resume: opts.resume, force: opts.force, quiet: opts.quiet, log,
    check: () => {
      if (!opts.loadFrom) return;
      // a full training checkpoint carries mmengine's 'state_dict.' prefix when converted naively: accept both
      const map = (k: string) => (k.startsWith('state_dict.') ? k.slice('state_dict.'.length) : k);
      p.load(loadCheckpoint(opts.loadFrom).tensors, { strict: true, file: opts.loadFrom, map });
      log(`[mff] loaded ${p.names().length} tensors from ${opts.loadFrom}`);
    },
    describe: () =>
      `[mff] ${cfg.model.algorithm.toUpperCase()} ViT ${model.arch.embedDims}-d × ${model.arch.numLayers} blocks, taps [${model.outIndices}], ` +
      `${(p.numParams() / 1e6).toFixed(2)}M params; ${dataset.records.length} images (${cfg.data.root}/${cfg.data.split}); ` +
      `${itersPerEpoch} it/epoch × ${cfg.schedule.epochs} epochs; batch ${cfg.batchSize}×${cfg.accumSteps}; lr ${lr.toExponential(3)}`,
    step: (batch) => {
      const B = batch.labels.length;
      const mk = randomMasking(drawNoise(maskRng, B, model.numPatches), B, model.numPatches, model.lenKeep);
      const imgs = tf.tensor4d(batch.images, [B, cfg.model.imgSize, cfg.model.imgSize, 3]); // [B, H, W, 3]
      try {
        return gradsByName(p, names, () => pretrainForward(model, imgs, mk).loss);
      } finally {
        imgs.dispose();
      }
    },
    afterStep: () => (isMff ? Object.fromEntries(weights().map((w, i) => [`weight_${i}`, w])) : {}),
    validate: async ({ pos, epochEnded }) => {
      const every = cfg.reconInterval ?? 0;
      if (epochEnded && every > 0 && pos.epoch % every === 0 && pos.iteration < totalIters) await drawRecon(reconFile(pos), reconTitle(pos));
    },
  }, async (r) => {
    // ---- outputs
    const ckptFile = join(workDir, cfg.checkpointName);
    const fw = isMff ? weights() : null;
    saveCheckpoint(ckptFile, p.toStateDict(), {
      format_version: 1, task: 'pretrain', config: cfg, iteration: r.pos.iteration, epoch: r.pos.epoch,
      metrics: { loss: r.finalLoss, ...(fw ? { fusion_weights: fw } : {}) },
    });
    const lastEpoch = r.losses.slice(-itersPerEpoch);
    const ls = loader.stats();
    const summary: PretrainSummary = {
      task: 'pretrain', algorithm: cfg.model.algorithm, config_file: opts.configFile ?? null, backend, checkpoint: ckptFile,
      dataset: { root: cfg.data.root, split: cfg.data.split, images: dataset.records.length, classes: dataset.classes.length },
      ...loopSummary(r, effBatch),
      epochs: cfg.schedule.epochs, lr,
      loader_img_per_s: ls.seconds > 0 ? ls.images / ls.seconds : null,
      data_wait_s: ls.waitSeconds,
      mean_loss_last_epoch: lastEpoch.length ? lastEpoch.reduce((a, b) => a + b, 0) / lastEpoch.length : NaN,
      fusion_weights: fw ? fw.map((w, i) => ({ block: model.outIndices[i], weight: w })) : null,
      params: { total: p.numParams(), trainable: p.numParams(true) },
      bad_files: bad.summary(),
    };
    const recon = reconFile(r.pos);
    await drawRecon(recon, reconTitle(r.pos));
    await writePretrainReport(workDir, summary, r.metrics.read(), model);
    log(`[mff] done: ${r.pos.iteration} iterations, loss ${r.finalLoss.toFixed(4)}, ${summary.img_per_s.toFixed(1)} img/s; checkpoint ${ckptFile}; reconstructions ${recon}`);
    return summary;
  });
}

async function writePretrainReport(workDir: string, s: PretrainSummary, history: Record<string, number>[], model: PretrainModel): Promise<void> {
  const rows: (string | number)[][] = [
    ['algorithm', s.algorithm.toUpperCase()],
    ['config', s.config_file ?? '(object)'],
    ['encoder', `${model.arch.embedDims}-d × ${model.arch.numLayers} blocks × ${model.arch.numHeads} heads, patch ${model.cfg.patchSize}, ${model.cfg.imgSize}px`],
    ['dataset', `${s.dataset.root}/${s.dataset.split} (${s.dataset.images} images)`],
    ...loopReportRows(s),
    ['lr (scaled)', s.lr.toExponential(3)],
    ['mean loss, last epoch', fmt(s.mean_loss_last_epoch, 4)],
    ['img/s (loader, lower bound)', s.loader_img_per_s === null ? '-' : fmt(s.loader_img_per_s, 1)],
    ['data wait (s)', fmt(s.data_wait_s, 1)],
    ['backend', s.backend],
    ['checkpoint', s.checkpoint],
  ];
  const sections = [{ title: 'Run', table: { header: ['key', 'value'], rows } }];
  if (s.fusion_weights) {
    sections.push({
      title: 'Fusion weights (softmax of backbone.proj_weights)',
      table: { header: ['tap', 'block', 'weight'], rows: s.fusion_weights.map((f, i) => [i, f.block, fmt(f.weight, 4)]) },
    });
  }
  writeSummary(workDir, s as unknown as Record<string, unknown>, sections);
  const it = history.map((h) => h.iter);
  await linePlotPng(join(workDir, 'loss-curve.png'), {
    title: `${s.algorithm.toUpperCase()} pretraining loss`, xLabel: 'iteration', yLabel: 'norm-pix MSE (masked patches)',
    series: [{ name: 'loss', x: it, y: history.map((h) => h.loss) }],
  });
  if (s.fusion_weights) {
    await linePlotPng(join(workDir, 'fusion-weights.png'), {
      title: 'MFF fusion weight per tap over training', xLabel: 'iteration', yLabel: 'softmax(proj_weights)',
      series: s.fusion_weights.map((f, i) => ({ name: `tap ${i} (block ${f.block})`, x: it, y: history.map((h) => h[`weight_${i}`]) })),
    });
  }
}
