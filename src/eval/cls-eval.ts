/**
 * Classification evaluation: the test pipeline (ResizeEdge + CenterCrop), batched eval forward, top-1/top-5 and
 * per-class accuracy, per-image predictions. Used by `mff cls-eval` (run-cls-eval.ts of the engine), tools/test.ts and the
 * validation passes of `mff cls-train`.
 *
 * A checkpoint written by cls-train describes itself (__metadata__.mff: task 'cls', config, classes); a bare
 * mmpretrain classifier state dict exported to safetensors needs the config it was trained with.
 */
import { join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ClsConfig } from '../config/cls.js';
import { buildClassifier, clsForward, loadClassifierState, type ClsModel } from '../models/cls/classifier.js';
import { buildClsTestTransform } from '../data/cls-transforms.js';
import type { ImageFolderDataset } from '../data/imagenet.js';
import { BatchLoader } from '../data/loader.js';
import type { BadFiles } from '../data/bad-files.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { Rng } from '../io/rng.js';
import { ClsAccuracy, softmaxRow, type ClsCounts, type ClsMetrics } from './cls-metrics.js';

export interface EvaluateOptions {
  batchSize: number;
  concurrency?: number;
  /** Collect one prediction record per image. */
  predictions?: boolean;
  /** Called after each batch with the batches done and the total (a progress line). */
  onBatch?: (done: number, total: number) => void;
  /** Unreadable images: strict (default) or skipped and left out of the metrics. */
  bad?: BadFiles;
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
): Promise<{ metrics: ClsMetrics; counts: ClsCounts; predictions: Prediction[] }> {
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
    bad: opts.bad,
  });
  const acc = new ClsAccuracy(dataset.classes);
  const predictions: Prediction[] = [];
  const S = model.cfg.imgSize;
  const total = loader.iterationsPerEpoch();
  for await (const batch of loader.batches(0)) {
    const B = batch.labels.length;
    const logits = tf.tidy(() => clsForward(model, tf.tensor4d(batch.images, [B, S, S, 3]), { train: false }).logits); // [B, K]
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
    opts.onBatch?.(batch.iter + 1, total);
  }
  return { metrics: acc.compute(), counts: acc.counts(), predictions };
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
