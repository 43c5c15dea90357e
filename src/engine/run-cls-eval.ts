/**
 * `mff cls-eval`: evaluate a classifier checkpoint (eval/cls-eval.ts does the work), print top-1/top-5, write
 * summary.json/md (per-class accuracy) and, with `out`, one JSON line per image.
 */
import { dirname, join, resolve } from 'node:path';
import { initBackend, type BackendName } from '../backend.js';
import { resolveDataRoot, type ClsConfig } from '../config/cls.js';
import { scanImageFolder } from '../data/imagenet.js';
import { badFilePolicy, type BadFiles } from '../data/bad-files.js';
import { preflightImageFolder } from '../data/preflight.js';
import { checkClasses, evaluate, loadClsCheckpoint } from '../eval/cls-eval.js';
import type { ClsMetrics } from '../eval/cls-metrics.js';
import { writeFileAtomic } from '../io/checkpoint.js';
import { Progress } from './progress.js';
import { writeSummary, type SummarySection } from './summary.js';
import { logger, SILENT } from './train-loop.js';

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
  /** Skip unreadable images (left out of the metrics, counted in the summary) instead of stopping. */
  skipBadFiles?: boolean;
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
  wall_s: number;
  /** images / wall-clock seconds (loading included) */
  img_per_s: number;
  bad_files: ReturnType<BadFiles['summary']>;
}

export async function runClsEval(opts: ClsEvalOptions): Promise<ClsEvalSummary> {
  const backend = await initBackend(opts.backend, { quiet: opts.quiet });
  const log = logger(opts.quiet);
  const { model, cfg, classes } = loadClsCheckpoint(opts.checkpoint, opts.config);
  try {
    const root = resolveDataRoot(opts.data ?? cfg.data.root);
    const split = opts.split ?? cfg.data.valSplit;
    const bad = badFilePolicy(opts.skipBadFiles, log);
    const dataset = await preflightImageFolder(scanImageFolder(root, split, { bad }), bad);
    checkClasses(dataset, cfg.model.numClasses, classes, opts.checkpoint);
    log(`[mff] evaluating ${opts.checkpoint} (${cfg.model.mode}, ${cfg.model.numClasses} classes) on ${dataset.records.length} images of ${root}/${split}`);
    const batchSize = Math.min(opts.batchSize ?? Math.min(cfg.batchSize, 256), dataset.records.length);
    const n = dataset.records.length;
    const progress = new Progress({ total: Math.ceil(n / batchSize), every: 20, label: 'cls-eval', ...(opts.quiet ? { stream: SILENT } : {}) });
    const t0 = performance.now();
    const { metrics, predictions } = await evaluate(model, cfg, dataset, {
      batchSize,
      predictions: Boolean(opts.out),
      bad,
      onBatch: (done) => progress.update(done, { 'img/s': (Math.min(done * batchSize, n) / ((performance.now() - t0) / 1000)).toFixed(1) }),
    });
    progress.done();
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
      wall_s: wall,
      img_per_s: metrics.images / wall,
      bad_files: bad.summary(),
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
    log(`[mff] summary: ${join(workDir, 'summary.md')}${opts.out ? `; predictions: ${opts.out}` : ''}`);
    return summary;
  } finally {
    model.params.dispose();
  }
}

/** Summary sections shared by cls-train and cls-eval: run facts, accuracy, per-class accuracy. */
export function clsReportSections(m: ClsMetrics, run: [string, string | number][]): SummarySection[] {
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

