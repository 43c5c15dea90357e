/**
 * Classification evaluation: the test pipeline (ResizeEdge + CenterCrop), batched eval forward, top-1/top-5 and
 * per-class accuracy, per-image predictions as JSON lines. Used by `mff cls-eval`, tools/test.ts and the
 * validation passes of `mff cls-train`.
 *
 * A checkpoint written by cls-train describes itself (__metadata__.mff: task 'cls', config, classes); a bare
 * mmpretrain classifier state dict exported to safetensors needs the config it was trained with.
 */
import { dirname, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend.js';
import type { ClsConfig } from '../config/cls.js';
import { resolveDataRoot } from '../config/cls.js';
import { buildClassifier, clsForward, loadClassifierState, type ClsModel } from '../models/cls/classifier.js';
import { buildClsTestTransform } from '../data/cls-transforms.js';
import { scanImageFolder, type ImageFolderDataset } from '../data/imagenet.js';
import { BatchLoader } from '../data/loader.js';
import { loadCheckpoint, writeFileAtomic } from '../io/checkpoint.js';
import { Rng } from '../io/rng.js';
import { Progress } from '../engine/progress.js';
import { writeSummary } from '../engine/summary.js';
import { ClsAccuracy, formatClsMetrics, softmaxRow, type ClsMetrics } from './cls-metrics.js';

const SILENT = { write: () => true };

export interface EvaluateOptions {
  batchSize: number;
  concurrency?: number;
  /** Collect one prediction record per image. */
  predictions?: boolean;
  quiet?: boolean;
  label?: string;
}

export interface Prediction {
  file: string;
  label: number;
  class: string;
  pred_label: number;
  pred_class: string;
  /** softmax probability of pred_label */
  pred_score: number;
  top5: { label: number; class: string; score: number }[];
}

/** The test transform of a config. */
export function clsTestTransform(cfg: ClsConfig) {
  const t = cfg.data.testPipeline;
  return buildClsTestTransform({ size: t.size, ...(t.resize > 0 ? { resize: t.resize } : {}), interp: t.interp }, cfg.data.mean, cfg.data.std);
}

/** Eval-mode forward over a dataset (in file order). */
export async function evaluate(
  model: ClsModel,
  cfg: ClsConfig,
  dataset: ImageFolderDataset,
  opts: EvaluateOptions,
): Promise<{ metrics: ClsMetrics; predictions: Prediction[] }> {
  const test = clsTestTransform(cfg);
  const loader = new BatchLoader({
    dataset,
    batchSize: Math.min(opts.batchSize, dataset.records.length),
    transform: async (img) => test(img),
    seed: 0,
    shuffle: false,
    dropLast: false,
    concurrency: opts.concurrency ?? cfg.data.concurrency,
    prefetch: 2,
  });
  const acc = new ClsAccuracy(dataset.classes);
  const predictions: Prediction[] = [];
  const S = model.cfg.imgSize;
  const progress = new Progress({ total: loader.iterationsPerEpoch(), every: 20, label: opts.label ?? 'eval', stream: opts.quiet ? SILENT : undefined });
  for await (const batch of loader.batches(0)) {
    const B = batch.labels.length;
    const logits = tf.tidy(() => clsForward(model, tf.tensor4d(batch.images, [B, S, S, 3]), { train: false }).logits);
    const scores = await logits.data();
    logits.dispose();
    const ranked = acc.update(scores, batch.labels);
    if (opts.predictions) {
      const K = dataset.classes.length;
      for (let b = 0; b < B; b++) {
        const prob = softmaxRow(scores.subarray(b * K, (b + 1) * K));
        const top5 = ranked[b].labels.map((l) => ({ label: l, class: dataset.classes[l], score: prob[l] }));
        predictions.push({
          file: relative(dataset.root, batch.files[b]),
          label: batch.labels[b],
          class: dataset.classes[batch.labels[b]],
          pred_label: top5[0].label,
          pred_class: top5[0].class,
          pred_score: top5[0].score,
          top5,
        });
      }
    }
    progress.update(batch.iter + 1);
  }
  progress.done();
  return { metrics: acc.compute(), predictions };
}

/** Check that a dataset's classes are the ones the model was trained on (same count; same names when known). */
export function checkClasses(dataset: ImageFolderDataset, numClasses: number, names: string[] | null, where: string): void {
  const dir = join(dataset.root, dataset.split);
  if (dataset.classes.length !== numClasses) {
    throw new Error(`${dir}: ${dataset.classes.length} class folders, but ${where} has ${numClasses} classes`);
  }
  if (names && names.length === numClasses) {
    const bad = names.findIndex((n, i) => n !== dataset.classes[i]);
    if (bad >= 0) throw new Error(`${dir}: class ${bad} is '${dataset.classes[bad]}', but ${where} calls it '${names[bad]}'`);
  }
}

export interface ClsEvalOptions {
  checkpoint: string;
  /** Required for a checkpoint without mff metadata (an exported mmpretrain state dict); else overrides the stored one. */
  config?: ClsConfig;
  configFile?: string;
  data?: string;
  split?: string;
  /** Per-image predictions (JSON lines). */
  out?: string;
  /** Where summary.json/md go; default <checkpoint dir>/eval-<split>. */
  workDir?: string;
  batchSize?: number;
  backend?: BackendName;
  quiet?: boolean;
}

export interface ClsEvalSummary {
  task: 'cls-eval';
  checkpoint: string;
  config_file: string | null;
  backend: string;
  mode: string;
  dataset: { root: string; split: string; images: number; classes: number };
  'accuracy/top1': number;
  'accuracy/top5': number;
  topk: [number, number];
  mean_class_accuracy: number;
  per_class: { label: number; class: string; images: number; top1: number }[];
  predictions: string | null;
  wall_time_s: number;
  img_per_s: number;
}

/** Build the classifier a checkpoint describes (or `config` gives) and load it strictly. */
export function loadClsCheckpoint(file: string, config?: ClsConfig): { model: ClsModel; cfg: ClsConfig; classes: string[] | null } {
  const ck = loadCheckpoint(file);
  if (ck.meta && ck.meta.task !== 'cls') {
    const hint = ck.meta.task === 'pretrain' ? ': fine-tune it first (mff cls-train --backbone ' + file + ')' : '';
    throw new Error(`${file}: a '${String(ck.meta.task)}' checkpoint, not a classifier${hint}`);
  }
  const cfg = structuredClone(config ?? (ck.meta?.config as ClsConfig | undefined));
  if (!cfg) throw new Error(`${file}: no mff metadata (an exported mmpretrain state dict?): pass --config with the classifier's config`);
  const classes = Array.isArray(ck.meta?.classes) ? (ck.meta!.classes as string[]) : null;
  const head = ck.tensors.get(cfg.model.mode === 'linear' ? 'head.layers.head.bias' : 'head.fc.bias');
  if (!head) {
    const other = cfg.model.mode === 'linear' ? 'head.fc.bias (a fine-tuned classifier)' : 'head.layers.head.bias (a linear probe)';
    const has = ck.tensors.has(cfg.model.mode === 'linear' ? 'head.fc.bias' : 'head.layers.head.bias');
    throw new Error(`${file}: no ${cfg.model.mode} classifier head${has ? `; it has ${other}, use the matching config` : ' (is this a classifier checkpoint?)'}`);
  }
  const numClasses = head.shape[0];
  if (cfg.model.numClasses > 0 && cfg.model.numClasses !== numClasses) {
    throw new Error(`${file}: the head has ${numClasses} classes but the config says model.numClasses = ${cfg.model.numClasses}`);
  }
  cfg.model.numClasses = numClasses;
  const model = buildClassifier(cfg.model, new Rng(0));
  try {
    loadClassifierState(model, ck.tensors, { file });
  } catch (e) {
    model.params.dispose();
    throw e;
  }
  return { model, cfg, classes };
}

export async function runClsEval(opts: ClsEvalOptions): Promise<ClsEvalSummary> {
  const backend = await initBackend(opts.backend, { quiet: opts.quiet });
  const log = (m: string) => {
    if (!opts.quiet) console.error(m);
  };
  const { model, cfg, classes } = loadClsCheckpoint(opts.checkpoint, opts.config);
  try {
    const root = resolveDataRoot(opts.data ?? cfg.data.root);
    const split = opts.split ?? cfg.data.valSplit;
    const dataset = scanImageFolder(root, split);
    checkClasses(dataset, cfg.model.numClasses, classes, opts.checkpoint);
    log(`[mff] evaluating ${opts.checkpoint} (${cfg.model.mode}, ${cfg.model.numClasses} classes) on ${dataset.records.length} images of ${root}/${split}`);
    const t0 = performance.now();
    const { metrics, predictions } = await evaluate(model, cfg, dataset, {
      batchSize: opts.batchSize ?? Math.min(cfg.batchSize, 256),
      predictions: Boolean(opts.out),
      quiet: opts.quiet,
    });
    const wall = (performance.now() - t0) / 1000;
    if (opts.out) writeFileAtomic(resolve(opts.out), predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const summary: ClsEvalSummary = {
      task: 'cls-eval',
      checkpoint: resolve(opts.checkpoint),
      config_file: opts.configFile ?? null,
      backend,
      mode: cfg.model.mode,
      dataset: { root, split, images: metrics.images, classes: dataset.classes.length },
      'accuracy/top1': metrics.top1,
      'accuracy/top5': metrics.top5,
      topk: metrics.topk,
      mean_class_accuracy: metrics.meanClassAccuracy,
      per_class: metrics.perClass.map((c) => ({ label: c.label, class: c.name, images: c.images, top1: c.top1 })),
      predictions: opts.out ? resolve(opts.out) : null,
      wall_time_s: wall,
      img_per_s: metrics.images / wall,
    };
    const workDir = resolve(opts.workDir ?? join(dirname(opts.checkpoint), `eval-${split}`));
    writeSummary(workDir, summary as unknown as Record<string, unknown>, clsReportSections(metrics, [
      ['checkpoint', summary.checkpoint],
      ['mode', cfg.model.mode],
      ['dataset', `${root}/${split} (${metrics.images} images)`],
      ['predictions', summary.predictions ?? '-'],
      ['img/s', summary.img_per_s.toFixed(1)],
      ['backend', backend],
    ]), { title: 'Classification evaluation' });
    if (!opts.quiet) console.log(formatClsMetrics(metrics));
    log(`[mff] summary: ${join(workDir, 'summary.md')}${opts.out ? `; predictions: ${opts.out}` : ''}`);
    return summary;
  } finally {
    model.params.dispose();
  }
}

/** Summary sections shared by cls-train and cls-eval: run facts, accuracy, per-class accuracy. */
export function clsReportSections(m: ClsMetrics, run: [string, string | number][]) {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
  return [
    { title: 'Run', table: { header: ['key', 'value'], rows: run } },
    {
      title: 'Accuracy (%)',
      table: { header: ['top-1', `top-${m.topk[1]}`, 'mean class accuracy', 'images'], rows: [[f(m.top1), f(m.top5), f(m.meanClassAccuracy), m.images]] },
    },
    {
      title: 'Per-class accuracy (top-1, %)',
      table: { header: ['label', 'class', 'images', 'top-1'], rows: m.perClass.map((c) => [c.label, c.name, c.images, f(c.top1)] as (string | number)[]) },
    },
  ];
}
