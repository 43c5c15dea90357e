/**
 * `mff merge-eval DIR...`: sum the raw accumulators of evaluation shards (`seg-eval` / `cls-eval --shard I/N`) into
 * the metrics one unsharded run prints. Seg shards hold per-image IoU histograms: they are replayed into one
 * IoUAccumulator in dataset order, so the float32 totals (and every rounded digit) are the single run's. Cls shards
 * hold integer per-class top-1/top-k counts, whose sums are exact in any order, and per-image predictions.
 *
 * Refused, naming the folder: a folder that is not a finished shard, shards of different evaluations (task, shard
 * count, image count, classes, config or checkpoint size differ), a shard given twice, missing shards, and images
 * that are not covered exactly once.
 */
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/checkpoint.js';
import { ClsAccuracy } from '../eval/cls-metrics.js';
import type { SegEvalResult } from '../eval/seg-eval.js';
import { IoUAccumulator, type Areas } from '../metrics/iou.js';
import { formatClassTable, formatSummary } from '../metrics/table.js';
import { readClsShardPredictions, readSegShardAreas, readShardManifest, type ClsShardManifest, type SegShardManifest, type ShardManifest } from '../eval/shard-io.js';
import { formatShard } from '../eval/shard.js';
import { writeClsEvalReport, type ClsEvalSummary } from './run-cls-eval.js';
import { segEvalSections, segEvalSummary } from './run-seg-eval.js';
import { writeSummary } from './summary.js';
import { logger } from './train-loop.js';

export interface MergeEvalOptions {
  /** Where the merged summary.json/md go; default ./work_dirs/<run>/eval_<checkpoint>_<split> as recorded by the shards. */
  workDir?: string;
  /** cls: the merged per-image predictions (JSON lines); default <work dir>/predictions.jsonl. */
  out?: string;
  quiet?: boolean;
}

export type MergeEvalResult =
  | { task: 'seg-eval'; seg: SegEvalResult & { workDir: string }; checkpoint: string; shards: number }
  | { task: 'cls-eval'; cls: ClsEvalSummary; shards: number };

export async function runMergeEval(dirs: string[], opts: MergeEvalOptions = {}): Promise<MergeEvalResult> {
  const log = logger(opts.quiet);
  if (dirs.length === 0) throw new Error('merge-eval: give the shard work dirs to merge');
  const shards = dirs.map((d) => ({ dir: resolve(d), m: readShardManifest(resolve(d)) }));
  checkShardSet(shards);
  const first = shards[0].m;
  const backends = [...new Set(shards.map((s) => s.m.backend))];
  if (backends.length > 1) log(`[mff] warning: the shards ran on different backends (${backends.join(', ')}); the metrics can differ from one run in the last digits`);
  const workDir = resolve(opts.workDir ?? join('work_dirs', first.eval_dir_name));
  log(`[mff] merging ${shards.length} ${first.task} shards (${first.total_images} images) into ${workDir}`);
  if (first.task === 'seg-eval') {
    const seg = mergeSeg(shards as { dir: string; m: SegShardManifest }[], workDir);
    log(`[mff] ${seg.numImages} images (${seg.dataset}): ${formatSummary(seg.metrics)}`);
    log(`[mff] wrote summary.json, summary.md to ${workDir}`);
    return { task: 'seg-eval', seg, checkpoint: first.checkpoint, shards: shards.length };
  }
  const cls = mergeCls(shards as { dir: string; m: ClsShardManifest }[], workDir, opts.out ?? join(workDir, 'predictions.jsonl'));
  log(`[mff] wrote summary.json, summary.md to ${workDir}; predictions: ${cls.predictions}`);
  return { task: 'cls-eval', cls, shards: shards.length };
}

/** The shards must be one evaluation: same task and settings, each of 0..N-1 exactly once. */
function checkShardSet(shards: { dir: string; m: ShardManifest }[]): void {
  const [a] = shards;
  const same = (key: string, f: (m: ShardManifest) => unknown) => {
    for (const s of shards.slice(1)) {
      if (JSON.stringify(f(s.m)) !== JSON.stringify(f(a.m))) {
        throw new Error(`${s.dir}: ${key} ${JSON.stringify(f(s.m))} differs from ${JSON.stringify(f(a.m))} of ${a.dir}; these shards are not one evaluation`);
      }
    }
  };
  same('task', (m) => m.task);
  same('shard count', (m) => m.shard.count);
  same('image count', (m) => m.total_images);
  same('classes', (m) => m.classes);
  same('config (sha256 of the resolved config)', (m) => m.config_sha256);
  same('checkpoint size in bytes', (m) => m.checkpoint_bytes);
  if (a.m.task === 'seg-eval') {
    same('metrics', (m) => (m as SegShardManifest).metrics);
    same('ignore_index', (m) => (m as SegShardManifest).ignore_index);
  } else {
    same('split', (m) => (m as ClsShardManifest).split);
    same('batch size', (m) => (m as ClsShardManifest).batch_size);
  }
  const N = a.m.shard.count;
  const seen = new Map<number, string>();
  for (const s of shards) {
    const prev = seen.get(s.m.shard.index);
    if (prev) throw new Error(`${s.dir}: shard ${formatShard(s.m.shard)} is also ${prev}; give each shard once`);
    seen.set(s.m.shard.index, s.dir);
  }
  const missing = Array.from({ length: N }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length) {
    throw new Error(`merge-eval: missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${N}`).join(', ')} (have ${[...seen.keys()].sort((x, y) => x - y).map((i) => `${i}/${N}`).join(', ')})`);
  }
}

/** Sort per-image records by dataset index and check they are exactly 0..total-1. */
function inDatasetOrder<T extends { index: number }>(items: { dir: string; rows: T[] }[], total: number): T[] {
  const byIndex = new Array<T | undefined>(total);
  for (const { dir, rows } of items) {
    for (const r of rows) {
      if (!Number.isInteger(r.index) || r.index < 0 || r.index >= total) throw new Error(`${dir}: image index ${r.index} is outside [0, ${total})`);
      if (byIndex[r.index]) throw new Error(`${dir}: image ${r.index} is also in another shard`);
      byIndex[r.index] = r;
    }
  }
  const hole = byIndex.findIndex((r) => r === undefined);
  if (hole >= 0 || byIndex.length !== total) throw new Error(`merge-eval: image ${hole} of ${total} is in no shard`);
  return byIndex as T[];
}

function mergeSeg(shards: { dir: string; m: SegShardManifest }[], workDir: string): SegEvalResult & { workDir: string } {
  const m = shards[0].m;
  const rows = inDatasetOrder(shards.map((s) => ({ dir: s.dir, rows: readSegShardAreas(s.dir, s.m) })), m.total_images);
  const acc = new IoUAccumulator(m.classes.length, m.ignore_index);
  for (const r of rows) acc.accumulate(r.areas as Areas);
  const result = acc.compute(m.metrics);
  const sum = (f: (x: SegShardManifest) => number) => shards.reduce((t, s) => t + f(s.m), 0);
  const wall = sum((x) => x.wall_s);
  const modelS = sum((x) => x.model_s);
  const loaderS = sum((x) => (x.loader_img_per_s > 0 ? x.images / x.loader_img_per_s : 0));
  const n = rows.length;
  const seg: SegEvalResult & { workDir: string } = {
    metrics: result.metrics,
    result,
    classes: m.classes,
    numImages: n,
    // throughput per worker: images over the summed time of all shards
    imgPerS: wall > 0 ? n / wall : 0,
    modelImgPerS: modelS > 0 ? n / modelS : 0,
    loaderImgPerS: loaderS > 0 ? n / loaderS : 0,
    wallSeconds: wall,
    checkpoint: m.checkpoint,
    dataset: m.dataset,
    table: formatClassTable(result, m.classes),
    totalImages: m.total_images,
    badFiles: mergedBadFiles(shards),
    workDir,
  };
  const cfg = { testCfg: m.test_cfg as never, data: { testScale: m.test_scale as never } };
  writeSummary(workDir, { ...segEvalSummary(seg, cfg), merged_shards: shards.length, shard_dirs: shards.map((s) => s.dir) }, segEvalSections(seg, cfg), {
    title: `Summary: seg-eval (merged from ${shards.length} shards)`,
  });
  return seg;
}

function mergeCls(shards: { dir: string; m: ClsShardManifest }[], workDir: string, out: string): ClsEvalSummary {
  const m = shards[0].m;
  const acc = new ClsAccuracy(m.classes);
  for (const s of shards) acc.addCounts(s.m.counts, `${s.dir}/shard.json`);
  const metrics = acc.compute();
  if (metrics.images !== m.total_images) throw new Error(`merge-eval: the shards' counts cover ${metrics.images} images, but each says the split has ${m.total_images}`);
  const preds = inDatasetOrder(shards.map((s) => ({ dir: s.dir, rows: readClsShardPredictions(s.dir, s.m) })), m.total_images);
  writeFileAtomic(resolve(out), preds.map(({ index: _, ...p }) => JSON.stringify(p)).join('\n') + '\n');
  return writeClsEvalReport(workDir, metrics, {
    checkpoint: m.checkpoint, configFile: null, backend: m.backend, mode: m.mode, root: m.root, split: m.split,
    predictions: resolve(out), shards: shards.length, wall: shards.reduce((t, s) => t + s.m.wall_s, 0), badFiles: mergedBadFiles(shards),
  });
}

/** The files the shards skipped (--skip-bad-files), each once: a file left out of the listing is skipped by every shard. */
function mergedBadFiles(shards: { m: ShardManifest }[]): { skipped: number; files: { file: string; reason: string }[] } {
  const byFile = new Map<string, string>();
  for (const s of shards) for (const f of s.m.bad_files?.files ?? []) if (!byFile.has(f.file)) byFile.set(f.file, f.reason);
  const skipped = Math.max(byFile.size, ...shards.map((s) => s.m.bad_files?.skipped ?? 0));
  return { skipped, files: [...byFile].map(([file, reason]) => ({ file, reason })) };
}
