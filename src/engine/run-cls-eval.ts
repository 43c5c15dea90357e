/**
 * `mff cls-eval`: evaluate a classifier checkpoint (eval/cls-eval.ts does the work), print top-1/top-5, write
 * summary.json/md (per-class accuracy) and, with `out`, one JSON line per image.
 */
import { relative, resolve } from 'node:path';
import { initBackend, type BackendName } from '../backend/init.js';
import { resolveDataRoot, type ClsConfig } from '../config/cls.js';
import { scanImageFolder } from '../data/imagenet.js';
import { badFilePolicy, type BadFiles } from '../data/bad-files.js';
import { preflightImageFolder } from '../data/preflight.js';
import { checkClasses, evaluate, loadClsCheckpoint } from '../eval/cls-eval.js';
import type { ClsMetrics } from '../eval/cls-metrics.js';
import { writeFileAtomic } from '../io/checkpoint.js';
import { formatShard, shardIndices, type Shard } from '../eval/shard.js';
import { fileBytes, fingerprint, SHARD_MANIFEST, SHARD_PREDICTIONS, writeClsShard } from '../eval/shard-io.js';
import { defaultEvalWorkDir, evalDirName } from './eval-dirs.js';
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
  /** Where summary.json/md go; default ./work_dirs/<run>/eval_<checkpoint>_<split>[/shard-I-of-N] (engine/eval-dirs.ts). */
  workDir?: string;
  /** Evaluate shard I of N and write its raw accumulators (counts, per-image predictions) for `mff merge-eval`. */
  shard?: Shard;
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
  /** Where summary.json/md (and a shard's accumulators) went. */
  work_dir: string;
  /** `I/N` for a shard (its metrics cover this slice only). */
  shard?: string;
  /** merge-eval: the number of shards summed. */
  merged_shards?: number;
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
    const full = scanImageFolder(root, split, { bad });
    checkClasses(full, cfg.model.numClasses, classes, opts.checkpoint);
    // batch size of the whole split, so a shard's batches are the unsharded run's batches (eval/shard.ts)
    const batchSize = Math.min(opts.batchSize ?? Math.min(cfg.batchSize, 256), full.records.length);
    const indices = opts.shard ? shardIndices(full.records.length, opts.shard, batchSize) : full.records.map((_, k) => k);
    if (indices.length === 0) {
      const batches = Math.ceil(full.records.length / batchSize);
      throw new Error(`--shard ${formatShard(opts.shard!)}: ${root}/${split} makes only ${batches} batches of ${batchSize} (shards deal whole batches), so this shard is empty; use at most ${batches} shards or a smaller --batch-size`);
    }
    // pre-flight after sharding: a shard checks only its own images
    const dataset = await preflightImageFolder(opts.shard ? { ...full, records: indices.map((k) => full.records[k]) } : full, bad);
    const dirOpts = { checkpoint: opts.checkpoint, split, configFile: opts.configFile, runWorkDir: cfg.workDir };
    const workDir = resolve(opts.workDir ?? defaultEvalWorkDir({ ...dirOpts, shard: opts.shard }));
    log(`[mff] evaluating ${opts.checkpoint} (${cfg.model.mode}, ${cfg.model.numClasses} classes) on ${dataset.records.length} images of ${root}/${split}`);
    const n = dataset.records.length;
    const progress = new Progress({ total: Math.ceil(n / batchSize), every: 20, label: 'cls-eval', ...(opts.quiet ? { stream: SILENT } : {}) });
    const t0 = performance.now();
    const { metrics, counts, predictions } = await evaluate(model, cfg, dataset, {
      batchSize,
      predictions: Boolean(opts.out || opts.shard),
      bad,
      onBatch: (done) => progress.update(done, { 'img/s': (Math.min(done * batchSize, n) / ((performance.now() - t0) / 1000)).toFixed(1) }),
    });
    progress.done();
    const wall = (performance.now() - t0) / 1000;
    if (opts.out) writeFileAtomic(resolve(opts.out), predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const summary = writeClsEvalReport(workDir, metrics, {
      checkpoint: resolve(opts.checkpoint), configFile: opts.configFile ?? null, backend, mode: cfg.model.mode, root, split,
      predictions: opts.out ? resolve(opts.out) : null, shard: opts.shard, wall, badFiles: bad.summary(),
    });
    if (opts.shard) {
      // dataset index of each prediction by file (a skipped file has no prediction)
      const indexOf = new Map(indices.map((k) => [relative(root, full.records[k].file), k]));
      writeClsShard(workDir, {
        format: 'mff-eval-shard', version: 1, task: 'cls-eval', shard: opts.shard, total_images: full.records.length, images: metrics.images,
        checkpoint: resolve(opts.checkpoint), checkpoint_bytes: fileBytes(opts.checkpoint), config_sha256: fingerprint(cfg), classes: full.classes,
        backend, wall_s: wall, eval_dir_name: evalDirName(dirOpts), root, split, mode: cfg.model.mode, batch_size: batchSize, counts,
        bad_files: bad.summary(),
      }, predictions.map((p) => ({ index: indexOf.get(p.file)!, ...p })));
      if (bad.count) log(`[mff] warning: this shard skipped ${bad.count} bad files; mff merge-eval needs every image of the split and will refuse it`);
    }
    const files = ['summary.json', 'summary.md', ...(opts.shard ? [SHARD_PREDICTIONS, SHARD_MANIFEST] : [])];
    log(`[mff] wrote ${files.join(', ')} to ${workDir}${opts.out ? `; predictions: ${resolve(opts.out)}` : ''}`);
    return summary;
  } finally {
    model.params.dispose();
  }
}

/** Build summary.json of cls-eval (or of merge-eval over cls shards) and write it with summary.md. */
export function writeClsEvalReport(
  workDir: string,
  metrics: ClsMetrics,
  o: { checkpoint: string; configFile: string | null; backend: string; mode: string; root: string; split: string; predictions: string | null; shard?: Shard; shards?: number; wall: number; badFiles?: ReturnType<BadFiles['summary']> },
): ClsEvalSummary {
  const summary: ClsEvalSummary = {
    task: 'cls-eval',
    checkpoint: o.checkpoint,
    config_file: o.configFile,
    backend: o.backend,
    mode: o.mode,
    dataset: { root: o.root, split: o.split, images: metrics.images, classes: metrics.perClass.length },
    'accuracy/top1': metrics.top1,
    'accuracy/top5': metrics.top5,
    topk: metrics.topk,
    mean_class_accuracy: metrics.meanClassAccuracy,
    per_class: metrics.perClass.map((c) => ({ label: c.label, class: c.name, images: c.images, top1: c.top1 })),
    predictions: o.predictions,
    work_dir: workDir,
    ...(o.shard ? { shard: formatShard(o.shard) } : {}),
    ...(o.shards ? { merged_shards: o.shards } : {}),
    wall_s: o.wall,
    img_per_s: metrics.images / o.wall,
    bad_files: o.badFiles ?? { skipped: 0, files: [] },
  };
  const title = o.shard
    ? `Classification evaluation, shard ${formatShard(o.shard)} (this slice only; mff merge-eval gives the whole split)`
    : o.shards ? `Classification evaluation (merged from ${o.shards} shards)` : 'Classification evaluation';
  writeSummary(workDir, summary as unknown as Record<string, unknown>, clsReportSections(metrics, [
    ['checkpoint', summary.checkpoint],
    ['mode', o.mode],
    ['dataset', `${o.root}/${o.split} (${metrics.images} images)`],
    ['predictions', summary.predictions ?? '-'],
    ['img/s', summary.img_per_s.toFixed(1)],
    ['backend', o.backend],
    ...(summary.bad_files.skipped ? [['bad files skipped', summary.bad_files.skipped] as [string, number]] : []),
  ]), { title });
  return summary;
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

