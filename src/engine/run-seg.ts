/**
 * `mff seg-train`: mmseg EncoderDecoder (MAE backbone + UperNet) training. Wires the infinite shuffled loader
 * (IterBasedTrainLoop: epochs only order the data), the segmentor, AdamW with mmseg layer-wise lr decay and LinearLR
 * warmup + PolyLR into the training loop (train-loop.ts: BN running stats, NaN guard, stop signal, resume,
 * metrics.jsonl), then evaluates (eval/seg-eval.ts) and writes the outputs. seg.ckpt holds the state dict under
 * mmseg keys plus metadata (task 'seg', config, classes, palette, reduce_zero_label), so `seg-eval --checkpoint`
 * needs nothing else.
 */
import { existsSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend/init.js';
import type { SegConfig } from '../config/seg.js';
import { segTrainGrads } from '../models/seg/segmentor.js';
import { loadBackboneFromPretrain } from '../models/seg/pretrained.js';
import { loadSegMeta, scanSegDataset } from '../data/seg/ade20k.js';
import { SegLoader } from '../data/seg/seg-loader.js';
import { badFilePolicy, type BadFiles } from '../data/bad-files.js';
import { preflightSegDataset } from '../data/preflight.js';
import { checkSegClasses, type SegEvalResult } from '../eval/seg-eval.js';
import { formatClassTableMarkdown, formatSummary } from '../metrics/table.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointMeta } from '../io/checkpoint.js';
import { warmupPoly } from './schedule.js';
import { linePlotPng } from './plot.js';
import { formatNumber as fmt, writeSummary, type SummarySection } from './summary.js';
import { logger, loopReportRows, loopSummary, trainLoop } from './train-loop.js';
import { runSegEval, segEvalSpeed } from './run-seg-eval.js';
import { checkSegTrainFits, createSegTraining, segTrainPipeline, summarizeKeys } from './seg-setup.js';

export { runSegEval, type SegEvalOptions, type SegEvalResult, type SegEvalTarget } from './run-seg-eval.js';
export { checkSegTrainFits, createSegTraining } from './seg-setup.js';

export interface RunSegTrainOptions {
  backend?: BackendName;
  resume?: boolean;
  configFile?: string;
  /** Print nothing but errors (no progress line either). */
  quiet?: boolean;
  /** Skip the final evaluation (and its summary section). */
  noEval?: boolean;
  /** Overlays rendered into <workDir>/vis for the summary. Default 4. */
  visCount?: number;
  /** Train even if the work dir holds a finished or interrupted run. */
  force?: boolean;
  /** Skip unreadable images / annotations (counted in the summary) instead of stopping. */
  skipBadFiles?: boolean;
}

export type SegTrainSummary = ReturnType<typeof loopSummary> & {
  task: 'seg';
  config_file: string | null;
  backend: string;
  checkpoint: string;
  pretrained: string | null;
  dataset: { root: string; train_images: number; val_images: number; classes: number };
  lr: number;
  mean_loss_last_10: number;
  /** Loader throughput while overlapping the (synchronous) model: a lower bound of the loader alone. */
  loader_img_per_s: number;
  /** Seconds the training loop waited for data (0 = the loader kept up). */
  data_wait_s: number;
  metrics: Record<string, number> | null;
  /** Per-class IoU / Acc in percent (mmseg's table values; NaN for a class absent from both prediction and label). */
  per_class: { class: string; IoU: number; Acc: number }[] | null;
  eval: (ReturnType<typeof segEvalSpeed> & { images: number }) | null;
  params: { total: number; trainable: number };
  bad_files: ReturnType<BadFiles['summary']>;
};

export async function runSegTrain(cfg: SegConfig, opts: RunSegTrainOptions = {}): Promise<SegTrainSummary> {
  const backend = await initBackend(opts.backend, { quiet: opts.quiet });
  const log = logger(opts.quiet);
  const workDir = resolve(cfg.workDir);

  // ---- data
  const root = resolve(cfg.data.root);
  const meta = await loadSegMeta(root);
  checkSegClasses(cfg, meta, root);
  const bad = badFilePolicy(opts.skipBadFiles, log);
  const trainSet = await preflightSegDataset(await scanSegDataset(root, cfg.data.trainSplit, { meta, bad }), bad);
  const loader = new SegLoader({
    bad,
    dataset: trainSet, batchSize: cfg.batchSize, seed: cfg.seed, pipeline: segTrainPipeline(cfg),
    concurrency: cfg.data.concurrency, prefetch: cfg.data.prefetch, shuffle: true,
  });
  const itersPerEpoch = loader.itersPerEpoch();
  if (itersPerEpoch < 1) throw new Error(`${root}/images/${cfg.data.trainSplit}: ${trainSet.samples.length} images give no full batch of ${cfg.batchSize}`);
  const maxIters = cfg.schedule.maxIters;
  const sch = cfg.schedule;
  const schedule = warmupPoly({ warmupIters: sch.warmupIters, totalIters: maxIters, startFactor: sch.warmupStartFactor, power: sch.power, etaMin: sch.etaMin });

  // ---- model + optimizer
  const { model, dropRng, optimizer } = createSegTraining(cfg);
  const p = model.params;
  const b = cfg.model.backbone;
  let lastEval: SegEvalResult | null = null;
  // the summary's name of the backbone: what it was pretrained with (known once the weights are loaded)
  let backboneName = cfg.pretrained ? 'ViT' : 'ViT (random init)';

  return trainLoop({
    task: 'seg', label: 'seg-train', workDir, config: cfg, params: p, optimizer, rngs: { drop: dropRng },
    batches: (epoch, start) => loader.batches(epoch, start),
    itersPerEpoch, accumSteps: 1, effectiveBatch: cfg.batchSize, schedule, baseLr: cfg.optim.lr,
    totalIters: maxIters, logInterval: cfg.logInterval, checkpointInterval: cfg.checkpointInterval,
    resume: opts.resume, force: opts.force, quiet: opts.quiet, log,
    check: () => checkSegTrainFits(cfg, p.numParams(), backend),
    onFreshStart: () => {
      if (!cfg.pretrained) return;
      const ck = loadCheckpoint(cfg.pretrained);
      const r = loadBackboneFromPretrain(model, ck.tensors, { file: cfg.pretrained });
      const algo = (ck.meta?.config as { model?: { algorithm?: string } } | undefined)?.model?.algorithm ?? r.algorithm;
      backboneName = `${algo.toUpperCase()} ViT`;
      const pe = r.posEmbedResized ? `; pos_embed resized ${r.posEmbedResized[0].join('x')} -> ${r.posEmbedResized[1].join('x')}` : '';
      log(
        `[mff] backbone from ${cfg.pretrained} (${backboneName} pretraining): loaded ${r.loaded.length} tensors${pe}; as expected, ` +
          `${r.expectedMissing.length} BEiT-only tensors keep their init (${summarizeKeys(r.expectedMissing)}), ` +
          `${r.expectedUnexpected.length} pretraining-only (${summarizeKeys(r.expectedUnexpected)}) and ${r.skipped.length} decoder/head keys are not used`,
      );
      if (r.missing.length) log(`[mff] WARNING: ${r.missing.length} backbone tensors not in ${cfg.pretrained} keep their init: ${summarizeKeys(r.missing)}`);
      if (r.unexpected.length) log(`[mff] WARNING: ${r.unexpected.length} tensors of ${cfg.pretrained} fit no backbone key: ${summarizeKeys(r.unexpected)}`);
    },
    describe: () =>
      `[mff] UperNet ${b.embedDims}-d × ${b.numLayers} blocks, patch ${b.patchSize}, ${b.imgSize}px, ${(p.numParams() / 1e6).toFixed(2)}M params; ` +
      `${trainSet.samples.length} images (${root}/${cfg.data.trainSplit}), ${meta.classes.length} classes; ${maxIters} iters × batch ${cfg.batchSize}; ` +
      `lr ${cfg.optim.lr.toExponential(2)} layer decay ${cfg.optim.layerDecayRate}; init ${cfg.pretrained || 'random'}${segModeNote(cfg)}`,
    step: (batch) => {
      const { batchSize: B, height: H, width: W } = batch;
      const imgs = tf.tensor4d(batch.images, [B, H, W, 3]);
      const labels = tf.tensor3d(Int32Array.from(batch.labels), [B, H, W], 'int32');
      try {
        const s = segTrainGrads(model, imgs, labels, { rng: dropRng, stochastic: true });
        const extra: Record<string, number> = { decode_loss: s.decodeLoss, decode_acc: s.decodeAcc };
        if (s.auxLoss !== null) extra.aux_loss = s.auxLoss;
        return { loss: s.loss, grads: s.grads, bnUpdates: s.bnUpdates, log: extra, show: { acc: s.decodeAcc.toFixed(1) } };
      } finally {
        tf.dispose([imgs, labels]);
      }
    },
    validate: async ({ pos, metrics }) => {
      if (!(cfg.valInterval > 0 && pos.iteration % cfg.valInterval === 0 && pos.iteration < maxIters)) return;
      lastEval = await runSegEval({ cfg, model }, { quiet: true, bad });
      metrics.append({ iter: pos.iteration, ...prefixKeys(lastEval.metrics, 'val_') });
      log(`[mff] iter ${pos.iteration}: ${formatSummary(lastEval.metrics)}`);
    },
  }, async (r) => {
    // ---- final evaluation + checkpoint (mmseg keys, BN running stats included)
    const ckptFile = join(workDir, cfg.checkpointName);
    const ckMeta: CheckpointMeta = {
      format_version: 1, task: 'seg', config: cfg, iteration: r.pos.iteration, classes: [...meta.classes], palette: meta.palette.map((c) => [...c]),
      reduce_zero_label: meta.reduceZeroLabel, metrics: { loss: r.finalLoss },
    };
    if (!r.interrupted && !opts.noEval) {
      const visDir = join(workDir, 'vis');
      rmSync(visDir, { recursive: true, force: true });
      lastEval = await runSegEval({ cfg, model, checkpoint: ckptFile }, { quiet: opts.quiet, showDir: visDir, bad });
      ckMeta.metrics = { loss: r.finalLoss, ...lastEval.metrics };
      r.metrics.append({ iter: r.pos.iteration, ...prefixKeys(lastEval.metrics, 'val_') });
    }
    saveCheckpoint(ckptFile, p.toStateDict(), ckMeta);
    const ev = r.interrupted ? null : (lastEval as SegEvalResult | null);
    const ls = loader.stats();
    const last10 = r.losses.slice(-10);
    const summary: SegTrainSummary = {
      task: 'seg', config_file: opts.configFile ?? null, backend, checkpoint: ckptFile, pretrained: cfg.pretrained || null,
      dataset: { root, train_images: trainSet.samples.length, val_images: ev?.numImages ?? 0, classes: meta.classes.length },
      ...loopSummary(r, cfg.batchSize),
      lr: cfg.optim.lr,
      mean_loss_last_10: last10.length ? last10.reduce((a, c) => a + c, 0) / last10.length : NaN,
      loader_img_per_s: ls.imgPerSec,
      data_wait_s: ls.waitSeconds,
      metrics: ev ? ev.metrics : null,
      per_class: ev ? ev.classes.map((c, i) => ({ class: c, IoU: ev.result.perClassPercent.IoU?.[i] ?? NaN, Acc: ev.result.perClassPercent.Acc?.[i] ?? NaN })) : null,
      eval: ev ? { ...segEvalSpeed(ev), images: ev.numImages } : null,
      params: { total: p.numParams(), trainable: p.numParams(true) },
      bad_files: bad.summary(),
    };
    await writeSegTrainReport(workDir, summary, r.metrics.read(), ev, cfg, opts.visCount ?? 4, backboneName);
    log(
      `[mff] done: ${r.pos.iteration} iterations, loss ${r.finalLoss.toFixed(4)}, ${summary.img_per_s.toPrecision(2)} img/s ` +
        `(model ${summary.model_img_per_s.toPrecision(2)}), data wait ${summary.data_wait_s.toFixed(1)} s; checkpoint ${ckptFile}`,
    );
    return summary;
  });
}

/** '; backbone frozen; linear head' style suffix for the probing modes (empty for the default fine-tuning). */
function segModeNote(cfg: SegConfig): string {
  const b = cfg.model.backbone;
  const fs = b.frozenStages ?? 0;
  const parts = [fs >= b.numLayers ? 'backbone frozen' : fs > 0 ? `frozen stages ${fs}` : '', cfg.model.decodeHead.type === 'linear' ? 'linear head (BN + 1×1 conv on the taps)' : ''];
  return parts.filter(Boolean).map((x) => `; ${x}`).join('');
}

function prefixKeys(m: Record<string, number>, prefix: string): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [prefix + k, v]));
}

async function writeSegTrainReport(
  workDir: string, s: SegTrainSummary, history: Record<string, number>[], ev: SegEvalResult | null, cfg: SegConfig, visCount: number, backboneName: string,
): Promise<void> {
  const b = cfg.model.backbone;
  const sections: SummarySection[] = [];
  if (ev) sections.push({ title: 'Metrics (validation)', table: { header: Object.keys(ev.metrics), rows: [Object.values(ev.metrics)] } });
  sections.push({
    title: 'Run',
    table: {
      header: ['key', 'value'],
      rows: [
        ['config', s.config_file ?? '(object)'],
        ['model', `${cfg.model.decodeHead.type === 'linear' ? 'linear probe' : 'UperNet'}, ${backboneName} ${b.embedDims}-d × ${b.numLayers} × ${b.numHeads} heads, patch ${b.patchSize}, ${b.imgSize}px, taps [${b.outIndices}]${segModeNote(cfg)}`],
        ['backbone init', s.pretrained ?? 'random'],
        ['dataset', `${s.dataset.root} (${s.dataset.train_images} train / ${s.dataset.val_images} val, ${s.dataset.classes} classes)`],
        ...loopReportRows(s),
        ['lr / layer decay', `${s.lr.toExponential(2)} / ${cfg.optim.layerDecayRate}`],
        ['mean loss, last 10 iters', fmt(s.mean_loss_last_10, 4)],
        ['img/s (train loader, overlapping the model)', fmt(s.loader_img_per_s, 1)],
        ['data wait (s)', fmt(s.data_wait_s, 1)],
        ...(ev ? [['img/s (eval, wall clock)', fmt(ev.imgPerS, 2)], ['img/s (eval model)', fmt(ev.modelImgPerS, 2)], ['img/s (eval loader)', fmt(ev.loaderImgPerS, 1)]] : []),
        ['backend', s.backend],
        ['checkpoint', s.checkpoint],
      ] as (string | number)[][],
    },
  });
  sections.push({ title: 'Loss curve', text: '![loss](loss-curve.png)' });
  if (ev) {
    sections.push({ title: 'Per-class results', text: formatClassTableMarkdown(ev.result, ev.classes) });
    const imgDir = join(resolve(cfg.data.root), 'images', cfg.data.valSplit);
    const visDir = join(workDir, 'vis');
    const files = existsSync(visDir) ? (await readdir(visDir, { recursive: true })).filter((f) => f.endsWith('.png')).sort() : [];
    const shown = files.slice(0, visCount);
    if (shown.length) {
      sections.push({ title: 'Predictions (image | ground truth | prediction)', text: shown.map((f) => `![${basename(f)}](vis/${f})`).join(' ') + `\n\nAll comparisons: vis/ (images from ${imgDir}).` });
    }
  }
  writeSummary(workDir, s as unknown as Record<string, unknown>, sections, { title: 'Summary: seg-train' });
  const it = history.filter((h) => typeof h.loss === 'number');
  const series = [{ name: 'loss', x: it.map((h) => h.iter), y: it.map((h) => h.loss) }];
  if (it.some((h) => typeof h.aux_loss === 'number')) series.push({ name: 'decode loss', x: it.map((h) => h.iter), y: it.map((h) => h.decode_loss) });
  if (series[0].x.length > 0) {
    await linePlotPng(join(workDir, 'loss-curve.png'), { title: 'UperNet training loss', xLabel: 'iteration', yLabel: 'cross-entropy (decode + 0.4 aux)', series });
  }
}

