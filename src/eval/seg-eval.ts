/**
 * Segmentation evaluation (mmseg test loop): dataset scan, batch-1 loader with keep-ratio Resize, whole or slide
 * inference, logits resized to the original label size, argmax, IoUMetric accumulation (metrics/iou.ts); optional
 * prediction PNGs (annotation convention) and image | ground truth | prediction comparisons. Used by `mff seg-eval` (run-seg-eval.ts of the engine),
 * tools/test.ts and the validation passes of `mff seg-train`.
 *
 * A checkpoint written by seg-train describes itself (__metadata__.mff: task 'seg', config, classes); a bare mmseg
 * state dict converted to safetensors needs the config it was trained with.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { finishSegConfig, loadSegConfig, type SegConfig } from '../config/seg.js';
import { buildSegmentor, segPredictor, type SegModel } from '../models/seg/segmentor.js';
import { loadSegMeta, scanSegDataset, type SegDataset, type SegDatasetMeta } from '../data/seg/ade20k.js';
import { SegLoader } from '../data/seg/seg-loader.js';
import { writeLabelPng } from '../data/seg/labels.js';
import { writeComparisonPng } from '../data/seg/compare.js';
import { decodeImage } from '../data/image.js';
import type { BadFiles } from '../data/bad-files.js';
import { preflightSegDataset } from '../data/preflight.js';
import { IoUAccumulator, type Areas, type IoUMetricName, type IoUResult } from '../metrics/iou.js';
import { formatClassTable } from '../metrics/table.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { Rng } from '../io/rng.js';
import { inferSegmentation } from './slide.js';
import { shardIndices, type Shard } from './shard.js';

/** A loaded model ready for evaluation. */
export interface SegEvalTarget {
  cfg: SegConfig;
  model: SegModel;
  checkpoint?: string;
  /** The class names the checkpoint was trained on (its metadata), checked against the dataset's. */
  classes?: readonly string[];
}

export interface EvaluateSegOptions {
  /** Dataset root (default: the config's data.root). */
  data?: string;
  /** Prediction PNGs (label values in the annotation convention: +1 when reduce_zero_label). */
  outDir?: string;
  /** image | ground truth | prediction comparisons in the dataset palette, with a legend (data/seg/compare.ts). */
  showDir?: string;
  concurrency?: number;
  metrics?: IoUMetricName[];
  /** Evaluate the first n images only. */
  limit?: number;
  /** Evaluate only the images k with k mod N = I (after `limit`); see eval/shard.ts. */
  shard?: Shard;
  /** Keep each image's areas (with its dataset index) in the result: what a shard writes for `mff merge-eval`. */
  keepAreas?: boolean;
  /** Called after each image with the images done and the total (a progress line). */
  onImage?: (done: number, total: number) => void;
  /** Unreadable images / annotations: strict (default) or skipped and left out of the metrics. */
  bad?: BadFiles;
}

export interface SegEvalResult {
  metrics: Record<string, number>;
  result: IoUResult;
  classes: readonly string[];
  numImages: number;
  /** Images per second of wall-clock time (loading, inference, metric and PNG writing). */
  imgPerS: number;
  /** Images per second of model time (inference + argmax). */
  modelImgPerS: number;
  /** Loader throughput (decode + resize + normalise), images per second of loading wall time. */
  loaderImgPerS: number;
  wallSeconds: number;
  checkpoint: string | null;
  dataset: string;
  /** The per-class IoU/Acc table (class names). */
  table: string;
  /** Files skipped by --skip-bad-files. */
  badFiles: ReturnType<BadFiles['summary']>;
  /** Images of the evaluated split (after `limit`, before sharding). */
  totalImages: number;
  /** Per-image areas by dataset index (with `keepAreas`). */
  areas?: { index: number; areas: Areas }[];
}

/** The dataset's classes must be the model's classes (names the meta file and the config field). */
export function checkSegClasses(cfg: SegConfig, meta: SegDatasetMeta, root: string): void {
  const n = meta.classes.length;
  const metaFile = existsSync(join(root, 'meta.json')) ? join(root, 'meta.json') : `${root} (ADE20K default meta)`;
  if (cfg.model.decodeHead.numClasses !== n) {
    throw new Error(`${metaFile}: dataset has ${n} classes but model.decodeHead.numClasses is ${cfg.model.decodeHead.numClasses}`);
  }
  if (cfg.model.auxiliaryHead && cfg.model.auxiliaryHead.numClasses !== n) {
    throw new Error(`${metaFile}: dataset has ${n} classes but model.auxiliaryHead.numClasses is ${cfg.model.auxiliaryHead.numClasses}`);
  }
}

/** Build the model of a seg checkpoint: metadata config if present, else `config` (bare mmseg state dict). */
export async function loadSegCheckpoint(
  file: string,
  opts: { config?: string; cfgOptions?: string[]; data?: string; log?: (msg: string) => void } = {},
): Promise<SegEvalTarget> {
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
  const classes = ck.meta && Array.isArray(ck.meta.classes) ? (ck.meta.classes as string[]) : undefined;
  return { cfg, model, checkpoint: file, classes };
}

/** Evaluate a loaded model on the config's validation split. The model stays the caller's. */
export async function evaluateSeg(target: SegEvalTarget, opts: EvaluateSegOptions = {}): Promise<SegEvalResult> {
  const { cfg, model } = target;
  const root = resolve(opts.data ?? cfg.data.root);
  const meta = await loadSegMeta(root);
  checkSegClasses(cfg, meta, root);
  if (target.classes) {
    const i = target.classes.findIndex((c, k) => c !== meta.classes[k]);
    if (i >= 0) {
      throw new Error(`${join(root, 'meta.json')}: class ${i} is '${meta.classes[i]}', but ${target.checkpoint ?? 'the checkpoint'} was trained with '${target.classes[i]}' there`);
    }
  }
  const full = await scanSegDataset(root, cfg.data.valSplit, { meta, bad: opts.bad });
  const limited = opts.limit ? full.samples.slice(0, opts.limit) : full.samples;
  const indices = opts.shard ? shardIndices(limited.length, opts.shard) : limited.map((_, k) => k);
  if (opts.shard && indices.length === 0) {
    throw new Error(`--shard ${opts.shard.index}/${opts.shard.count}: ${root}/${cfg.data.valSplit} has only ${limited.length} images, so this shard is empty; use at most ${limited.length} shards`);
  }
  // pre-flight after sharding: a shard checks only its own images; a skipped image keeps the others' dataset indices
  const selected: SegDataset = { ...full, samples: indices.map((k) => limited[k]) };
  const dataset = opts.bad ? await preflightSegDataset(selected, opts.bad) : selected;
  const indexOf = new Map(indices.map((k) => [limited[k].img, k]));
  const kept: { index: number; areas: Areas }[] = [];
  const concurrency = opts.concurrency ?? cfg.data.concurrency;
  const loader = new SegLoader({
    dataset, batchSize: 1, seed: cfg.seed, testScale: cfg.data.testScale, concurrency, prefetch: Math.max(concurrency, cfg.data.prefetch), shuffle: false, bad: opts.bad,
  });
  const S = cfg.model.backbone.imgSize;
  const test = cfg.testCfg;
  const acc = new IoUAccumulator(meta.classes.length, cfg.model.ignoreIndex);
  const imgDir = join(root, 'images', cfg.data.valSplit);
  const predictor = segPredictor(model); // weight-only work (folded BN, relative biases) once per pass
  const t0 = performance.now();
  let modelMs = 0;
  let n = 0;
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
      const res = inferSegmentation(predictor.encodeDecode, img, [s.origHeight, s.origWidth], test); // pred: [origH·origW]
      tf.dispose([img, res.segLogits, res.logits]);
      modelMs += performance.now() - m0;
      const areas = acc.add(res.pred, s.label);
      if (opts.keepAreas) kept.push({ index: indexOf.get(s.file)!, areas });
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
          const size = { width: s.origWidth, height: s.origHeight };
          await writeComparisonPng(join(opts.showDir, rel), image, { data: s.label, ...size }, { data: pred, ...size }, meta, { ignoreIndex: cfg.model.ignoreIndex });
        }
      }
      opts.onImage?.(n, dataset.samples.length);
    }
  } finally {
    predictor.dispose();
  }
  const expected = dataset.samples.length - (opts.bad?.skip ? dataset.samples.filter((x) => opts.bad!.has(x.img)).length : 0);
  if (n !== expected) throw new Error(`${root}/${cfg.data.valSplit}: the loader gave ${n} images, expected ${expected}`);
  const result = acc.compute(opts.metrics ?? cfg.evalMetrics);
  const wallSeconds = (performance.now() - t0) / 1000;
  return {
    metrics: result.metrics,
    result,
    classes: meta.classes,
    numImages: n,
    imgPerS: wallSeconds > 0 ? n / wallSeconds : 0,
    modelImgPerS: modelMs > 0 ? (1000 * n) / modelMs : 0,
    loaderImgPerS: loader.stats().imgPerSec,
    wallSeconds,
    checkpoint: target.checkpoint ?? null,
    dataset: `${root}/${cfg.data.valSplit}`,
    table: formatClassTable(result, meta.classes),
    badFiles: opts.bad?.summary() ?? { skipped: 0, files: [] },
    totalImages: limited.length,
    ...(opts.keepAreas ? { areas: kept } : {}),
  };
}
