/**
 * `mff seg-eval`: evaluate a segmentation checkpoint (eval/seg-eval.ts does the work) with a progress line, log the
 * per-class table and aAcc/mIoU/mAcc, write summary.json/md.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { initBackend, type BackendName } from '../backend/init.js';
import type { SegConfig } from '../config/seg.js';
import { evaluateSeg, loadSegCheckpoint, type EvaluateSegOptions, type SegEvalResult, type SegEvalTarget } from '../eval/seg-eval.js';
import { formatClassTableMarkdown, formatSummary } from '../metrics/table.js';
import { formatShard, type Shard } from '../eval/shard.js';
import { fileBytes, fingerprint, SHARD_AREAS, SHARD_MANIFEST, writeSegShard, type SegShardManifest } from '../eval/shard-io.js';
import { defaultEvalWorkDir, evalDirName } from './eval-dirs.js';
import { Progress } from './progress.js';
import { writeSummary, type SummarySection } from './summary.js';
import { logger, SILENT } from './train-loop.js';
import { badFilePolicy } from '../data/bad-files.js';

export type { SegEvalResult, SegEvalTarget } from '../eval/seg-eval.js';

export interface SegEvalOptions extends Omit<EvaluateSegOptions, 'onImage'> {
  backend?: BackendName;
  /** Print nothing but errors (no progress line either). */
  quiet?: boolean;
  /** Config file for a bare state dict (an mmseg checkpoint converted to safetensors). */
  config?: string;
  cfgOptions?: string[];
  /** Where summary.json/md go (not written when omitted, unless `defaultWorkDir`). */
  workDir?: string;
  /** Without `workDir`, write into ./work_dirs/<run>/eval_<checkpoint>_<split> (engine/eval-dirs.ts); what `mff seg-eval` does. */
  defaultWorkDir?: boolean;
  /** Evaluate shard I of N and write its raw accumulators for `mff merge-eval` (needs a work dir). */
  shard?: Shard;
  /** Log the summary line and the per-class table (stderr). Default true; the seg-eval command prints them itself. */
  logTable?: boolean;
  /** Skip unreadable images / annotations (left out of the metrics, counted in the summary) instead of stopping. */
  skipBadFiles?: boolean;
}

/** `seg-eval`: evaluate a checkpoint file, or an in-memory model (`{cfg, model}`, e.g. at the end of training). */
export async function runSegEval(cfgOrCheckpoint: string | SegEvalTarget, opts: SegEvalOptions = {}): Promise<SegEvalResult & { workDir: string | null }> {
  const log = logger(opts.quiet);
  const backend = await initBackend(opts.backend, { quiet: opts.quiet });
  const owned = typeof cfgOrCheckpoint === 'string';
  const target = owned
    ? await loadSegCheckpoint(cfgOrCheckpoint, { config: opts.config, cfgOptions: opts.cfgOptions, data: opts.data, log })
    : cfgOrCheckpoint;
  const { cfg } = target;
  let progress: Progress | null = null;
  try {
    const t0 = performance.now();
    const dirOpts = { checkpoint: target.checkpoint ?? 'model', split: cfg.data.valSplit, configFile: opts.config, runWorkDir: cfg.workDir };
    const workDir = opts.workDir ? resolve(opts.workDir) : opts.defaultWorkDir || opts.shard ? defaultEvalWorkDir({ ...dirOpts, shard: opts.shard }) : null;
    const r = await evaluateSeg(target, {
      ...opts,
      bad: opts.bad ?? badFilePolicy(opts.skipBadFiles, log),
      keepAreas: Boolean(opts.shard),
      onImage: (done, total) => {
        progress ??= new Progress({ total, every: 10, label: 'seg-eval', ...(opts.quiet ? { stream: SILENT } : {}) });
        progress.update(done, { 'img/s': (done / ((performance.now() - t0) / 1000)).toPrecision(2) });
      },
    });
    (progress as Progress | null)?.done();
    // the metrics once: here (seg-train's final validation) or by the command (engine/report.ts)
    const of = opts.shard ? `, shard ${formatShard(opts.shard)} of ${r.totalImages}` : '';
    if (opts.logTable ?? true) log(`[mff] ${r.numImages} images (${r.dataset}${of}): ${formatSummary(r.metrics)}\nper class results:\n${r.table}`);
    log(
      `[mff] throughput: ${r.imgPerS.toFixed(2)} img/s (wall clock), model ${r.modelImgPerS.toFixed(2)} img/s (${cfg.testCfg.mode}), ` +
        `loading ${r.loaderImgPerS.toFixed(1)} img/s (concurrency ${opts.concurrency ?? cfg.data.concurrency})`,
    );
    if (workDir) {
      mkdirSync(workDir, { recursive: true });
      const shard = opts.shard ? { shard: formatShard(opts.shard), total_images: r.totalImages } : {};
      writeSummary(workDir, { ...segEvalSummary(r, cfg), ...shard }, segEvalSections(r, cfg), {
        title: opts.shard ? `Summary: seg-eval, shard ${formatShard(opts.shard)} (this slice only; mff merge-eval gives the metrics of the whole split)` : 'Summary: seg-eval',
      });
      if (opts.shard) writeSegShard(workDir, segShardManifest(r, cfg, opts.shard, opts.metrics ?? cfg.evalMetrics, evalDirName(dirOpts), backend), r.areas ?? []);
      const files = ['summary.json', 'summary.md', ...(opts.shard ? [SHARD_AREAS, SHARD_MANIFEST] : [])];
      log(`[mff] wrote ${files.join(', ')} to ${workDir}`);
    }
    if (opts.outDir) log(`[mff] prediction PNGs: ${resolve(opts.outDir)}`);
    if (opts.showDir) log(`[mff] overlays: ${resolve(opts.showDir)}`);
    return { ...r, workDir };
  } finally {
    if (owned) target.model.params.dispose();
  }
}

/** The img/s keys every summary and printed line uses. */
export function segEvalSpeed(r: SegEvalResult) {
  return { img_per_s: r.imgPerS, model_img_per_s: r.modelImgPerS, loader_img_per_s: r.loaderImgPerS, wall_s: r.wallSeconds };
}

function segShardManifest(r: SegEvalResult, cfg: SegConfig, shard: Shard, metrics: SegShardManifest['metrics'], evalDir: string, backend: string): SegShardManifest {
  return {
    format: 'mff-eval-shard', version: 1, task: 'seg-eval', shard, total_images: r.totalImages, images: r.numImages,
    checkpoint: r.checkpoint ? resolve(r.checkpoint) : '(in memory)', checkpoint_bytes: r.checkpoint ? fileBytes(r.checkpoint) : 0,
    config_sha256: fingerprint(cfg), classes: [...r.classes], backend, wall_s: r.wallSeconds, eval_dir_name: evalDir,
    dataset: r.dataset, ignore_index: cfg.model.ignoreIndex, metrics, test_cfg: cfg.testCfg, test_scale: [...cfg.data.testScale],
    model_s: r.modelImgPerS > 0 ? r.numImages / r.modelImgPerS : 0, loader_img_per_s: r.loaderImgPerS, bad_files: r.badFiles,
  };
}

/** summary.json of seg-eval (and of merge-eval over seg shards). */
export function segEvalSummary(r: SegEvalResult, cfg: Pick<SegConfig, 'testCfg'>): Record<string, unknown> {
  const perClass = Object.fromEntries(Object.entries(r.result.perClassPercent).map(([k, v]) => [k, Array.from(v!)]));
  return {
    task: 'seg-eval', checkpoint: r.checkpoint, dataset: r.dataset, images: r.numImages, test_cfg: cfg.testCfg,
    metrics: r.metrics, classes: r.classes, per_class: perClass, ...segEvalSpeed(r), bad_files: r.badFiles,
  };
}

/** summary.md sections of seg-eval (and of merge-eval over seg shards). */
export function segEvalSections(r: SegEvalResult, cfg: { testCfg: SegConfig['testCfg']; data: Pick<SegConfig['data'], 'testScale'> }): SummarySection[] {
  return [
    { title: 'Metrics', table: { header: Object.keys(r.metrics), rows: [Object.values(r.metrics)] } },
    {
      title: 'Evaluation',
      table: {
        header: ['key', 'value'],
        rows: [
          ['checkpoint', r.checkpoint ?? '(in memory)'], ['dataset', `${r.dataset} (${r.numImages} images)`],
          ['test_cfg', JSON.stringify(cfg.testCfg)], ['test scale', `[${cfg.data.testScale}]`],
          ['img/s (wall clock)', r.imgPerS.toFixed(2)], ['img/s (model)', r.modelImgPerS.toFixed(2)], ['img/s (loader)', r.loaderImgPerS.toFixed(1)],
          ['wall time (s)', r.wallSeconds.toFixed(1)],
        ],
      },
    },
    { title: 'Per-class results', text: formatClassTableMarkdown(r.result, r.classes) },
  ];
}
