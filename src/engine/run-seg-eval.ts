/**
 * `mff seg-eval`: evaluate a segmentation checkpoint (eval/seg-eval.ts does the work) with a progress line, log the
 * per-class table and aAcc/mIoU/mAcc, write summary.json/md.
 */
import { mkdirSync } from 'node:fs';
import { initBackend, type BackendName } from '../backend.js';
import type { SegConfig } from '../config/seg.js';
import { evaluateSeg, loadSegCheckpoint, type EvaluateSegOptions, type SegEvalResult, type SegEvalTarget } from '../eval/seg-eval.js';
import { formatClassTableMarkdown, formatSummary } from '../metrics/table.js';
import { Progress } from './progress.js';
import { writeSummary, type SummarySection } from './summary.js';
import { logger, SILENT } from './train-loop.js';

export type { SegEvalResult, SegEvalTarget } from '../eval/seg-eval.js';

export interface SegEvalOptions extends Omit<EvaluateSegOptions, 'onImage'> {
  backend?: BackendName;
  /** Print nothing but errors (no progress line either). */
  quiet?: boolean;
  /** Config file for a bare state dict (an mmseg checkpoint converted to safetensors). */
  config?: string;
  cfgOptions?: string[];
  /** Where summary.json/md go (not written when omitted). */
  workDir?: string;
  /** Log the summary line and the per-class table (stderr). Default true; the seg-eval command prints them itself. */
  logTable?: boolean;
}

/** `seg-eval`: evaluate a checkpoint file, or an in-memory model (`{cfg, model}`, e.g. at the end of training). */
export async function runSegEval(cfgOrCheckpoint: string | SegEvalTarget, opts: SegEvalOptions = {}): Promise<SegEvalResult> {
  const log = logger(opts.quiet);
  await initBackend(opts.backend, { quiet: opts.quiet });
  const owned = typeof cfgOrCheckpoint === 'string';
  const target = owned
    ? await loadSegCheckpoint(cfgOrCheckpoint, { config: opts.config, cfgOptions: opts.cfgOptions, data: opts.data, log })
    : cfgOrCheckpoint;
  const { cfg } = target;
  let progress: Progress | null = null;
  try {
    const t0 = performance.now();
    const r = await evaluateSeg(target, {
      ...opts,
      onImage: (done, total) => {
        progress ??= new Progress({ total, every: 10, label: 'seg-eval', ...(opts.quiet ? { stream: SILENT } : {}) });
        progress.update(done, { 'img/s': (done / ((performance.now() - t0) / 1000)).toPrecision(2) });
      },
    });
    (progress as Progress | null)?.done();
    // the metrics once: here (seg-train's final validation) or by the command (engine/report.ts)
    if (opts.logTable ?? true) log(`[mff] ${r.numImages} images (${r.dataset}): ${formatSummary(r.metrics)}\nper class results:\n${r.table}`);
    log(
      `[mff] throughput: ${r.imgPerS.toFixed(2)} img/s (wall clock), model ${r.modelImgPerS.toFixed(2)} img/s (${cfg.testCfg.mode}), ` +
        `loading ${r.loaderImgPerS.toFixed(1)} img/s (concurrency ${opts.concurrency ?? cfg.data.concurrency})`,
    );
    if (opts.workDir) {
      mkdirSync(opts.workDir, { recursive: true });
      writeSummary(opts.workDir, segEvalSummary(r, cfg), segEvalSections(r, cfg), { title: 'Summary: seg-eval' });
    }
    return r;
  } finally {
    if (owned) target.model.params.dispose();
  }
}

/** The img/s keys every summary and printed line uses. */
export function segEvalSpeed(r: SegEvalResult) {
  return { img_per_s: r.imgPerS, model_img_per_s: r.modelImgPerS, loader_img_per_s: r.loaderImgPerS, wall_s: r.wallSeconds };
}

function segEvalSummary(r: SegEvalResult, cfg: SegConfig): Record<string, unknown> {
  const perClass = Object.fromEntries(Object.entries(r.result.perClassPercent).map(([k, v]) => [k, Array.from(v!)]));
  return {
    task: 'seg-eval', checkpoint: r.checkpoint, dataset: r.dataset, images: r.numImages, test_cfg: cfg.testCfg,
    metrics: r.metrics, classes: r.classes, per_class: perClass, ...segEvalSpeed(r),
  };
}

function segEvalSections(r: SegEvalResult, cfg: SegConfig): SummarySection[] {
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
