/**
 * `mff seg-train` / `mff seg-eval`: mmseg EncoderDecoder (MAE backbone + UperNet) training and evaluation.
 *
 * Train: IterBasedTrainLoop over an infinite shuffled loader, AdamW with mmseg layer-wise lr decay, LinearLR warmup
 * + PolyLR, BN running stats assigned after each step, NaN guard, SIGINT save, resume (train-state.ts), metrics.jsonl.
 * The final checkpoint holds the state dict under mmseg keys plus metadata (task 'seg', config, classes, palette,
 * reduce_zero_label), so `seg-eval --checkpoint` needs nothing else.
 * Eval: mmseg test loop (batch 1, keep-ratio Resize, whole or slide inference, logits resized to the original
 * label size, argmax) feeding IoUMetric; optional prediction PNGs (annotation convention) and palette overlays.
 */
import { mkdirSync, existsSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend.js';
import { finishSegConfig, loadSegConfig, type SegConfig } from '../config/seg.js';
import { buildSegmentor, segPredictor, segTrainGrads, type SegModel } from '../models/seg/segmentor.js';
import { loadBackboneFromPretrain } from '../models/seg/pretrained.js';
import { estimateSegTrainMemory, WASM_HEAP_LIMIT } from '../models/seg/memory.js';
import { applyBnUpdates, disposeBnUpdates } from '../nn/conv.js';
import { inferSegmentation } from '../eval/slide.js';
import { loadSegMeta, scanSegDataset, type SegDataset, type SegDatasetMeta } from '../data/seg/ade20k.js';
import { SegLoader } from '../data/seg/seg-loader.js';
import type { SegTrainPipeline } from '../data/seg/seg-transforms.js';
import { writeLabelPng, writeOverlayPng } from '../data/seg/labels.js';
import { decodeImage } from '../data/image.js';
import { IoUAccumulator, type IoUMetricName, type IoUResult } from '../metrics/iou.js';
import { formatClassTable, formatClassTableMarkdown, formatSummary } from '../metrics/table.js';
import { Rng } from '../io/rng.js';
import { loadCheckpoint, saveCheckpoint, writeFileAtomic, type CheckpointMeta } from '../io/checkpoint.js';
import { restoreRun, saveResumeState, type LoopPosition } from '../io/train-state.js';
import { StopSignal, checkLoss } from './loop.js';
import { createOptimizer } from './optim.js';
import { mmsegLayerDecayGroups } from './param-groups.js';
import { groupLr, lrAt, warmupPoly } from './schedule.js';
import { Progress } from './progress.js';
import { MetricsLog } from './log.js';
import { linePlotPng } from './plot.js';
import { writeSummary, type SummarySection } from './summary.js';

type Log = (msg: string) => void;

const SILENT = { write: () => true };

function logger(quiet?: boolean): Log {
  return (msg) => {
    if (!quiet) console.error(msg);
  };
}

/** The dataset's classes must be the model's classes (names the meta file and the config field). */
function checkClasses(cfg: SegConfig, meta: SegDatasetMeta, root: string): void {
  const n = meta.classes.length;
  const metaFile = existsSync(join(root, 'meta.json')) ? join(root, 'meta.json') : `${root} (ADE20K default meta)`;
  if (cfg.model.decodeHead.numClasses !== n) {
    throw new Error(`${metaFile}: dataset has ${n} classes but model.decodeHead.numClasses is ${cfg.model.decodeHead.numClasses}`);
  }
  if (cfg.model.auxiliaryHead && cfg.model.auxiliaryHead.numClasses !== n) {
    throw new Error(`${metaFile}: dataset has ${n} classes but model.auxiliaryHead.numClasses is ${cfg.model.auxiliaryHead.numClasses}`);
  }
}

function trainPipeline(cfg: SegConfig): SegTrainPipeline {
  const t = cfg.data.train;
  return {
    scale: t.scale, ratioRange: t.ratioRange, cropSize: t.cropSize, catMaxRatio: t.catMaxRatio, flipProb: t.flipProb,
    photometric: t.photometric ? {} : false, mean: cfg.data.mean, std: cfg.data.std, ignoreIndex: cfg.model.ignoreIndex,
  };
}

// ===================================================================================================== evaluation

export interface SegEvalOptions {
  backend?: BackendName;
  quiet?: boolean;
  /** Dataset root (default: the config's data.root). */
  data?: string;
  /** Config file for a bare state dict (an mmseg checkpoint converted to safetensors). */
  config?: string;
  cfgOptions?: string[];
  /** Prediction PNGs (label values in the annotation convention: +1 when reduce_zero_label). */
  outDir?: string;
  /** Palette overlays of the predictions. */
  showDir?: string;
  /** Where summary.json/md go (not written when omitted). */
  workDir?: string;
  concurrency?: number;
  metrics?: IoUMetricName[];
  /** Evaluate the first n images only. */
  limit?: number;
  /** Log the per-class table (stderr). Default true. */
  logTable?: boolean;
}

export interface SegEvalResult {
  metrics: Record<string, number>;
  result: IoUResult;
  classes: readonly string[];
  numImages: number;
  /** Loader throughput (decode + resize + normalise), images per second of loading wall time. */
  loadImgPerS: number;
  /** Model throughput (inference + argmax), images per second of model time. */
  modelImgPerS: number;
  wallSeconds: number;
  checkpoint: string | null;
  dataset: string;
  table: string;
}

/** A loaded model ready for evaluation. */
export interface SegEvalTarget {
  cfg: SegConfig;
  model: SegModel;
  checkpoint?: string;
}

/** Build the model of a seg checkpoint: metadata config if present, else `config` (bare mmseg state dict). */
export async function loadSegCheckpoint(file: string, opts: { config?: string; cfgOptions?: string[]; data?: string; log?: Log } = {}): Promise<SegEvalTarget> {
  if (!existsSync(file)) throw new Error(`${file}: checkpoint not found`);
  const ck = loadCheckpoint(file);
  let cfg: SegConfig;
  if (opts.config) {
    cfg = await loadSegConfig(opts.config, { cfgOptions: opts.cfgOptions, data: opts.data });
  } else if (ck.meta?.task === 'seg' && ck.meta.config) {
    cfg = finishSegConfig(structuredClone(ck.meta.config) as Record<string, unknown>, `${file} (embedded config)`, { cfgOptions: opts.cfgOptions, data: opts.data });
  } else if (ck.meta) {
    throw new Error(`${file}: a '${ck.meta.task}' checkpoint, not a segmentation model (for a backbone, use seg-train --backbone)`);
  } else {
    throw new Error(`${file}: bare state dict without mff metadata; pass --config <seg config> describing the model`);
  }
  // the auxiliary head is a training-only branch: evaluate without it
  const model = buildSegmentor({ ...cfg.model, auxiliaryHead: null }, new Rng(cfg.seed));
  const r = model.params.load(ck.tensors, { file });
  const unexpected = r.unexpected.filter((k) => !k.startsWith('auxiliary_head.'));
  if (r.missing.length) {
    model.params.dispose();
    throw new Error(`${file}: checkpoint does not fit the config; missing ${r.missing.length} keys: ${r.missing.slice(0, 8).join(', ')}${r.missing.length > 8 ? ', ...' : ''}`);
  }
  if (unexpected.length) opts.log?.(`[mff] ${file}: ignoring ${unexpected.length} unexpected keys: ${unexpected.slice(0, 8).join(', ')}`);
  return { cfg, model, checkpoint: file };
}

/**
 * The seg-train model and optimiser from a config: the segmentor (mmseg init, seeded by cfg.seed), the drop-path /
 * dropout Rng, and AdamW over mmseg's layer-decay parameter groups. Shared by runSegTrain and tools/bench.ts.
 */
export function createSegTraining(cfg: SegConfig): { model: SegModel; dropRng: Rng; optimizer: ReturnType<typeof createOptimizer> } {
  const rootRng = new Rng(cfg.seed);
  const model = buildSegmentor(cfg.model, rootRng.fork());
  const dropRng = rootRng.fork();
  const p = model.params;
  const names = p.trainableNames();
  const shapes = new Map(names.map((n) => [n, p.get(n).shape]));
  const groups = mmsegLayerDecayGroups(names, shapes, {
    numLayers: cfg.model.backbone.numLayers, layerDecayRate: cfg.optim.layerDecayRate, weightDecay: cfg.optim.weightDecay, baseLr: cfg.optim.lr,
  });
  // On the CPU engine every tensor lives in one wasm heap of at most 4 GB; AdamW's two state buffers (twice the
  // parameters: 1.3 GB for ViT-B UperNet) go to JS memory instead, bitwise the same update (engine/optim.ts).
  const stateInHostMemory = tf.getBackend() === 'wasm';
  const optimizer = createOptimizer({ type: 'AdamW', betas: cfg.optim.betas, eps: cfg.optim.eps }, p, groups, { stateInHostMemory });
  return { model, dropRng, optimizer };
}

const GB = (b: number) => `${(b / 2 ** 30).toFixed(1)} GB`;

/**
 * Pre-flight on the CPU engine (one wasm heap of at most 4 GB): refuse a training config whose estimated peak does
 * not fit, with the estimate, the limit and the nearest settings that fit (withCp, a smaller crop).
 */
export function checkSegTrainFits(cfg: SegConfig, params: number, backend: string): void {
  if (!backend.startsWith('wasm')) return;
  const est = (m: SegConfig['model']) => estimateSegTrainMemory(m, cfg.batchSize, { params, optimizerOnHeap: false });
  const e = est(cfg.model);
  if (e.total <= WASM_HEAP_LIMIT) return;
  const b = cfg.model.backbone;
  const fits: string[] = [];
  const cp = { ...cfg.model, backbone: { ...b, withCp: true } };
  if (!b.withCp && est(cp).total <= WASM_HEAP_LIMIT) fits.push(`model.backbone.withCp=true (est. ${GB(est(cp).total)})`);
  const step = 2 * b.patchSize;
  for (let S = Math.floor(b.imgSize / step) * step - step; S >= step; S -= step) {
    const m = { ...cp, backbone: { ...cp.backbone, imgSize: S } };
    if (est(m).total <= WASM_HEAP_LIMIT) {
      const o = [`model.backbone.imgSize=${S}`, `data.train.cropSize=[${S},${S}]`, `testCfg.crop=[${S},${S}]`, 'model.backbone.withCp=true'];
      fits.push(`crop ${S}² with withCp (est. ${GB(est(m).total)}): ${o.map((x) => `--cfg-options ${x}`).join(' ')}`);
      break;
    }
  }
  throw new Error(
    `seg-train: estimated peak memory ${GB(e.total)} for batch ${cfg.batchSize} at ${b.imgSize}² (weights+grads ${GB(e.weights)}, backbone ${GB(e.backbone)}, ` +
      `neck ${GB(e.neck)}, heads ${GB(e.head)}) exceeds the ${backend} engine's ${GB(WASM_HEAP_LIMIT)} heap; fits: ${fits.join('; ') || 'nothing at this batch size'}` +
      ' (batch 1 is refused by BatchNorm, as in PyTorch)',
  );
}

/** `seg-eval`: evaluate a checkpoint file, or an in-memory model (`{cfg, model}`, e.g. at the end of training). */
export async function runSegEval(cfgOrCheckpoint: string | SegEvalTarget, opts: SegEvalOptions = {}): Promise<SegEvalResult> {
  const log = logger(opts.quiet);
  await initBackend(opts.backend, { quiet: opts.quiet });
  const owned = typeof cfgOrCheckpoint === 'string';
  const target = owned
    ? await loadSegCheckpoint(cfgOrCheckpoint, { config: opts.config, cfgOptions: opts.cfgOptions, data: opts.data, log })
    : cfgOrCheckpoint;
  try {
    return await evaluate(target, opts, log);
  } finally {
    if (owned) target.model.params.dispose();
  }
}

async function evaluate(target: SegEvalTarget, opts: SegEvalOptions, log: Log): Promise<SegEvalResult> {
  const { cfg, model } = target;
  const root = resolve(opts.data ?? cfg.data.root);
  const meta = await loadSegMeta(root);
  checkClasses(cfg, meta, root);
  const full = await scanSegDataset(root, cfg.data.valSplit, { meta });
  const dataset: SegDataset = opts.limit ? { ...full, samples: full.samples.slice(0, opts.limit) } : full;
  const loader = new SegLoader({
    dataset, batchSize: 1, seed: cfg.seed, testScale: cfg.data.testScale, concurrency: opts.concurrency ?? cfg.data.concurrency,
    prefetch: Math.max(opts.concurrency ?? cfg.data.concurrency, cfg.data.prefetch), shuffle: false,
  });
  const S = cfg.model.backbone.imgSize;
  const test = cfg.testCfg;
  const acc = new IoUAccumulator(meta.classes.length, cfg.model.ignoreIndex);
  const imgDir = join(root, 'images', cfg.data.valSplit);
  const predictor = segPredictor(model); // weight-only work (folded BN, relative biases) once per pass
  const encodeDecode = predictor.encodeDecode;
  const t0 = performance.now();
  let modelMs = 0;
  let n = 0;
  const progress = new Progress({ total: dataset.samples.length, every: 10, label: 'seg-eval', ...(opts.quiet ? { stream: SILENT } : {}) });
  try {
    for await (const s of loader.evalSamples()) {
      if (test.mode === 'whole' && (s.height !== S || s.width !== S)) {
        throw new Error(`${s.file}: resized to ${s.width}x${s.height} by testScale [${cfg.data.testScale}], but whole inference needs exactly ${S}x${S}; use testCfg mode 'slide'`);
      }
      if (test.mode === 'slide' && (s.height < S || s.width < S)) {
        throw new Error(`${s.file}: resized to ${s.width}x${s.height}, smaller than the ${S}x${S} slide crop (mmseg does not pad in slide mode)`);
      }
      const m0 = performance.now();
      const img = tf.tensor4d(s.image, [1, s.height, s.width, 3]);
      const res = inferSegmentation(encodeDecode, img, [s.origHeight, s.origWidth], test);
      tf.dispose([img, res.segLogits, res.logits]);
      modelMs += performance.now() - m0;
      acc.add(res.pred, s.label);
      n++;
      if (opts.outDir || opts.showDir) {
        const rel = relative(imgDir, s.file).replace(/\.[^./\\]+$/, '.png');
        const pred = Uint8Array.from(res.pred);
        if (opts.outDir) {
          const stored = meta.reduceZeroLabel ? pred.map((v) => v + 1) : pred;
          await writeLabelPng(join(opts.outDir, rel), stored, s.origWidth, s.origHeight);
        }
        if (opts.showDir) {
          const image = await decodeImage(s.file);
          await writeOverlayPng(join(opts.showDir, rel), image, { data: pred, width: s.origWidth, height: s.origHeight }, meta.palette, { ignoreIndex: cfg.model.ignoreIndex });
        }
      }
      progress.update(n);
    }
  } finally {
    predictor.dispose();
  }
  progress.done();
  const result = acc.compute(opts.metrics ?? cfg.evalMetrics);
  const st = loader.stats();
  const out: SegEvalResult = {
    metrics: result.metrics,
    result,
    classes: meta.classes,
    numImages: n,
    loadImgPerS: st.imgPerSec,
    modelImgPerS: modelMs > 0 ? (1000 * n) / modelMs : 0,
    wallSeconds: (performance.now() - t0) / 1000,
    checkpoint: target.checkpoint ?? null,
    dataset: `${root}/${cfg.data.valSplit}`,
    table: formatClassTable(result, meta.classes),
  };
  if (opts.logTable ?? true) log(`per class results:\n${out.table}`);
  log(`[mff] ${dataset.samples.length} images (${out.dataset}): ${formatSummary(result.metrics)}`);
  log(`[mff] throughput: loading ${out.loadImgPerS.toFixed(1)} img/s (concurrency ${opts.concurrency ?? cfg.data.concurrency}), model ${out.modelImgPerS.toFixed(2)} img/s (${test.mode})`);
  if (opts.workDir) {
    mkdirSync(opts.workDir, { recursive: true });
    writeSummary(opts.workDir, evalSummaryJson(out, cfg), evalSections(out, cfg), { title: 'Summary: seg-eval' });
  }
  return out;
}

function evalSummaryJson(r: SegEvalResult, cfg: SegConfig): Record<string, unknown> {
  const perClass = Object.fromEntries(Object.entries(r.result.perClassPercent).map(([k, v]) => [k, Array.from(v!)]));
  return {
    task: 'seg-eval', checkpoint: r.checkpoint, dataset: r.dataset, images: r.numImages, test_cfg: cfg.testCfg,
    metrics: r.metrics, classes: r.classes, per_class: perClass,
    load_img_per_s: r.loadImgPerS, model_img_per_s: r.modelImgPerS, wall_time_s: r.wallSeconds,
  };
}

function evalSections(r: SegEvalResult, cfg: SegConfig): SummarySection[] {
  return [
    { title: 'Metrics', table: { header: Object.keys(r.metrics), rows: [Object.values(r.metrics)] } },
    {
      title: 'Evaluation',
      table: {
        header: ['key', 'value'],
        rows: [
          ['checkpoint', r.checkpoint ?? '(in memory)'], ['dataset', `${r.dataset} (${r.numImages} images)`],
          ['test_cfg', JSON.stringify(cfg.testCfg)], ['test scale', `[${cfg.data.testScale}]`],
          ['img/s (loader)', r.loadImgPerS.toFixed(1)], ['img/s (model)', r.modelImgPerS.toFixed(2)], ['wall time (s)', r.wallSeconds.toFixed(1)],
        ],
      },
    },
    { title: 'Per-class results', text: formatClassTableMarkdown(r.result, r.classes) },
  ];
}

// ===================================================================================================== training

export interface RunSegTrainOptions {
  backend?: BackendName;
  resume?: boolean;
  configFile?: string;
  quiet?: boolean;
  /** Skip the final evaluation (and its summary section). */
  noEval?: boolean;
  /** Overlays rendered into <workDir>/vis for the summary. Default 4. */
  visCount?: number;
}

export interface SegTrainSummary {
  task: 'seg';
  config_file: string | null;
  backend: string;
  checkpoint: string;
  pretrained: string | null;
  dataset: { root: string; train_images: number; val_images: number; classes: number };
  iterations: number;
  max_iters: number;
  batch_size: number;
  lr: number;
  final_loss: number;
  mean_loss_last_10: number;
  wall_time_s: number;
  train_img_per_s: number;
  /** Loader throughput while overlapping the (synchronous) model: a lower bound of the loader alone. */
  loader_img_per_s: number;
  /** Seconds the training loop waited for data (0 = the loader kept up). */
  data_wait_s: number;
  metrics: Record<string, number> | null;
  eval: { load_img_per_s: number; model_img_per_s: number; images: number } | null;
  params: { total: number; trainable: number };
  interrupted: boolean;
}

export async function runSegTrain(cfg: SegConfig, opts: RunSegTrainOptions = {}): Promise<SegTrainSummary> {
  const backend = await initBackend(opts.backend, { quiet: opts.quiet });
  const log = logger(opts.quiet);
  const workDir = resolve(cfg.workDir);
  mkdirSync(workDir, { recursive: true });

  // ---- data
  const root = resolve(cfg.data.root);
  const meta = await loadSegMeta(root);
  checkClasses(cfg, meta, root);
  const trainSet = await scanSegDataset(root, cfg.data.trainSplit, { meta });
  const loader = new SegLoader({
    dataset: trainSet, batchSize: cfg.batchSize, seed: cfg.seed, pipeline: trainPipeline(cfg),
    concurrency: cfg.data.concurrency, prefetch: cfg.data.prefetch, shuffle: true,
  });
  const itersPerEpoch = loader.itersPerEpoch();
  if (itersPerEpoch < 1) throw new Error(`${root}/images/${cfg.data.trainSplit}: ${trainSet.samples.length} images give no full batch of ${cfg.batchSize}`);
  const maxIters = cfg.schedule.maxIters;
  const schedule = warmupPoly({
    warmupIters: cfg.schedule.warmupIters, totalIters: maxIters, startFactor: cfg.schedule.warmupStartFactor,
    power: cfg.schedule.power, etaMin: cfg.schedule.etaMin,
  });

  // ---- model + optimizer
  const { model, dropRng, optimizer } = createSegTraining(cfg);
  const p = model.params;
  try {
    checkSegTrainFits(cfg, p.numParams(), backend);
  } catch (e) {
    optimizer.dispose();
    p.dispose();
    throw e;
  }

  let pos: LoopPosition = { iteration: 0, epoch: 0, batchInEpoch: 0, rng: {}, elapsed: 0 };
  const metrics = new MetricsLog(join(workDir, 'metrics.jsonl'));
  const restored = restoreRun({
    workDir, task: 'seg', resume: Boolean(opts.resume), params: p, optimizer, rngs: { drop: dropRng }, metrics, log, total: maxIters,
  });
  if (restored) pos = restored;
  else {
    if (cfg.pretrained) {
      const ck = loadCheckpoint(cfg.pretrained);
      const r = loadBackboneFromPretrain(model, ck.tensors, { file: cfg.pretrained });
      const pe = r.posEmbedResized ? `; pos_embed resized ${r.posEmbedResized[0].join('x')} -> ${r.posEmbedResized[1].join('x')}` : '';
      log(
        `[mff] backbone from ${cfg.pretrained}: loaded ${r.loaded.length}, missing ${r.missing.length} (${summarizeKeys(r.missing)}), ` +
          `unexpected ${r.unexpected.length} (${summarizeKeys(r.unexpected)}), skipped ${r.skipped.length} non-backbone keys${pe}`,
      );
    }
  }
  writeFileAtomic(join(workDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  const b = cfg.model.backbone;
  log(
    `[mff] UperNet ${b.embedDims}-d × ${b.numLayers} blocks, patch ${b.patchSize}, ${b.imgSize}px, ${(p.numParams() / 1e6).toFixed(2)}M params; ` +
      `${trainSet.samples.length} images (${root}/${cfg.data.trainSplit}), ${meta.classes.length} classes; ${maxIters} iters × batch ${cfg.batchSize}; ` +
      `lr ${cfg.optim.lr.toExponential(2)} layer decay ${cfg.optim.layerDecayRate}; init ${cfg.pretrained || 'random'}`,
  );

  const stop = new StopSignal(log);
  const t0 = performance.now();
  const saveResume = () =>
    saveResumeState(workDir, 'seg', cfg, p.toStateDict(), optimizer.state(), {
      ...pos, rng: { drop: dropRng.getState() }, elapsed: pos.elapsed + (performance.now() - t0) / 1000,
    });

  const progress = new Progress({ total: maxIters, every: cfg.logInterval, label: 'seg-train', startIter: pos.iteration, ...(opts.quiet ? { stream: SILENT } : {}) });
  const startIter = pos.iteration;
  const losses: number[] = [];
  let lastLoss = NaN;
  let stepMs = 0;
  let interrupted = false;
  let lastEval: SegEvalResult | null = null;
  try {
    outer: while (pos.iteration < maxIters) {
      const epoch = pos.epoch;
      for await (const batch of loader.batches(epoch, pos.batchInEpoch)) {
        const s0 = performance.now();
        const { batchSize: B, height: H, width: W } = batch;
        const imgs = tf.tensor4d(batch.images, [B, H, W, 3]);
        const labels = tf.tensor3d(Int32Array.from(batch.labels), [B, H, W], 'int32');
        const step = segTrainGrads(model, imgs, labels, { rng: dropRng, stochastic: true });
        tf.dispose([imgs, labels]);
        if (!Number.isFinite(step.loss)) {
          tf.dispose([...step.grads.values()]);
          disposeBnUpdates(step.bnUpdates);
        }
        checkLoss(step.loss, { iteration: pos.iteration, epoch, batch: pos.batchInEpoch, file: batch.files[0], workDir });
        const lr = lrAt(pos.iteration, schedule, cfg.optim.lr);
        optimizer.step(step.grads, groupLr(pos.iteration, schedule, cfg.optim.lr));
        tf.dispose([...step.grads.values()]);
        applyBnUpdates(p, step.bnUpdates);
        stepMs += performance.now() - s0;
        pos.iteration++;
        pos.batchInEpoch++;
        if (pos.batchInEpoch >= itersPerEpoch) {
          pos.epoch++;
          pos.batchInEpoch = 0;
        }
        lastLoss = step.loss;
        losses.push(lastLoss);
        const entry: Record<string, number> = {
          iter: pos.iteration, epoch: pos.epoch, loss: step.loss, decode_loss: step.decodeLoss, decode_acc: step.decodeAcc, lr,
          img_per_s: (1000 * B) / (performance.now() - s0), tensors: tf.memory().numTensors,
        };
        if (step.auxLoss !== null) entry.aux_loss = step.auxLoss;
        if (pos.iteration % cfg.logInterval === 0 || pos.iteration === maxIters) metrics.append(entry);
        progress.update(pos.iteration, { loss: step.loss.toFixed(4), acc: step.decodeAcc.toFixed(1), lr: lr.toExponential(2) });
        if (cfg.valInterval > 0 && pos.iteration % cfg.valInterval === 0 && pos.iteration < maxIters) {
          lastEval = await runSegEval({ cfg, model }, { quiet: true });
          metrics.append({ iter: pos.iteration, ...prefixKeys(lastEval.metrics, 'val_') });
          log(`[mff] iter ${pos.iteration}: ${formatSummary(lastEval.metrics)}`);
        }
        if (pos.iteration % cfg.checkpointInterval === 0 && pos.iteration < maxIters) saveResume();
        if (stop.requested) {
          interrupted = true;
          break outer;
        }
        if (pos.iteration >= maxIters) break outer;
        if (pos.epoch !== epoch) break;
      }
    }
  } catch (e) {
    optimizer.dispose();
    p.dispose();
    throw e;
  } finally {
    stop.dispose();
  }
  progress.done();
  const trained = pos.iteration - startIter;
  const wall = pos.elapsed + (performance.now() - t0) / 1000;
  if (interrupted) {
    saveResume();
    log(`[mff] saved resume state at iteration ${pos.iteration}/${maxIters}: continue with --resume`);
  }

  // ---- checkpoint (mmseg keys, BN running stats included) + final evaluation
  const ckptFile = join(workDir, cfg.checkpointName);
  const ckMeta: CheckpointMeta = {
    format_version: 1, task: 'seg', config: cfg, iteration: pos.iteration, classes: [...meta.classes], palette: meta.palette.map((c) => [...c]),
    reduce_zero_label: meta.reduceZeroLabel, metrics: { loss: lastLoss },
  };
  if (!interrupted && !opts.noEval) {
    const visDir = join(workDir, 'vis');
    rmSync(visDir, { recursive: true, force: true });
    lastEval = await runSegEval({ cfg, model, checkpoint: ckptFile }, { quiet: opts.quiet, showDir: visDir, limit: undefined });
    ckMeta.metrics = { loss: lastLoss, ...lastEval.metrics };
    metrics.append({ iter: pos.iteration, ...prefixKeys(lastEval.metrics, 'val_') });
  }
  saveCheckpoint(ckptFile, p.toStateDict(), ckMeta);
  if (!interrupted && pos.iteration >= maxIters && existsSync(join(workDir, 'resume.safetensors'))) rmSync(join(workDir, 'resume.safetensors'));

  const ls = loader.stats();
  const last10 = losses.slice(-10);
  const summary: SegTrainSummary = {
    task: 'seg',
    config_file: opts.configFile ?? null,
    backend,
    checkpoint: ckptFile,
    pretrained: cfg.pretrained || null,
    dataset: { root, train_images: trainSet.samples.length, val_images: lastEval?.numImages ?? 0, classes: meta.classes.length },
    iterations: pos.iteration,
    max_iters: maxIters,
    batch_size: cfg.batchSize,
    lr: cfg.optim.lr,
    final_loss: lastLoss,
    mean_loss_last_10: last10.length ? last10.reduce((a, c) => a + c, 0) / last10.length : NaN,
    wall_time_s: wall,
    train_img_per_s: stepMs > 0 ? (1000 * trained * cfg.batchSize) / stepMs : 0,
    loader_img_per_s: ls.imgPerSec,
    data_wait_s: ls.waitSeconds,
    metrics: lastEval && !interrupted ? lastEval.metrics : null,
    eval: lastEval && !interrupted ? { load_img_per_s: lastEval.loadImgPerS, model_img_per_s: lastEval.modelImgPerS, images: lastEval.numImages } : null,
    params: { total: p.numParams(), trainable: p.numParams(true) },
    interrupted,
  };
  await writeSegTrainReport(workDir, summary, metrics.read(), interrupted ? null : lastEval, cfg, opts.visCount ?? 4);
  log(
    `[mff] done: ${pos.iteration} iterations, loss ${lastLoss.toFixed(4)}, train ${summary.train_img_per_s.toPrecision(2)} img/s (model), ` +
      `data wait ${summary.data_wait_s.toFixed(1)} s; checkpoint ${ckptFile}`,
  );
  optimizer.dispose();
  p.dispose();
  return summary;
}

function prefixKeys(m: Record<string, number>, prefix: string): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [prefix + k, v]));
}

/** 'gamma_1 ×12, relative_position_bias_table ×12' style digest of a key list. */
function summarizeKeys(keys: string[]): string {
  if (keys.length === 0) return 'none';
  const counts = new Map<string, number>();
  for (const k of keys) {
    const leaf = k.replace(/^backbone\./, '').replace(/^layers\.\d+\./, '');
    counts.set(leaf, (counts.get(leaf) ?? 0) + 1);
  }
  return [...counts].map(([k, c]) => (c > 1 ? `${k} ×${c}` : k)).join(', ');
}

async function writeSegTrainReport(
  workDir: string, s: SegTrainSummary, history: Record<string, number>[], ev: SegEvalResult | null, cfg: SegConfig, visCount: number,
): Promise<void> {
  const fmt = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
  const b = cfg.model.backbone;
  const sections: SummarySection[] = [];
  if (ev) sections.push({ title: 'Metrics (validation)', table: { header: Object.keys(ev.metrics), rows: [Object.values(ev.metrics)] } });
  sections.push({
    title: 'Run',
    table: {
      header: ['key', 'value'],
      rows: [
        ['config', s.config_file ?? '(object)'],
        ['model', `UperNet, MAE ViT ${b.embedDims}-d × ${b.numLayers} × ${b.numHeads} heads, patch ${b.patchSize}, ${b.imgSize}px, taps [${b.outIndices}]`],
        ['backbone init', s.pretrained ?? 'random'],
        ['dataset', `${s.dataset.root} (${s.dataset.train_images} train / ${s.dataset.val_images} val, ${s.dataset.classes} classes)`],
        ['iterations', `${s.iterations} / ${s.max_iters}`],
        ['batch', s.batch_size],
        ['lr / layer decay', `${s.lr.toExponential(2)} / ${cfg.optim.layerDecayRate}`],
        ['final loss', fmt(s.final_loss)],
        ['mean loss, last 10 iters', fmt(s.mean_loss_last_10)],
        ['wall time (s)', fmt(s.wall_time_s, 1)],
        ['img/s (train step)', fmt(s.train_img_per_s, 2)],
        ['img/s (train loader, overlapping the model)', fmt(s.loader_img_per_s, 1)],
        ['data wait (s)', fmt(s.data_wait_s, 1)],
        ...(ev ? [['img/s (eval model)', fmt(ev.modelImgPerS, 2)], ['img/s (eval loader)', fmt(ev.loadImgPerS, 1)]] : []),
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
      sections.push({ title: 'Predictions (overlays)', text: shown.map((f) => `![${basename(f)}](vis/${f})`).join(' ') + `\n\nAll overlays: vis/ (images from ${imgDir}).` });
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

