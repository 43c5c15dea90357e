/**
 * What the eval commands (and tools/test.ts) print: on stderr the summary line, then the table, for a person; on
 * stdout one JSON line, for a program. Metrics are printed once each way.
 */
import { formatClsMetrics } from '../eval/cls-metrics.js';
import { formatSummary } from '../metrics/table.js';
import type { ClsEvalSummary } from './run-cls-eval.js';
import { segEvalSpeed, type SegEvalResult } from './run-seg-eval.js';

function jsonLine(v: object): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
}

/** `mff seg-eval`: stderr = summary line + per-class table (unless quiet), stdout = one JSON line. */
export function printSegEval(r: SegEvalResult & { workDir?: string | null }, checkpoint: string, opts: { quiet?: boolean } = {}): void {
  if (!opts.quiet) console.error(`${formatSummary(r.metrics)}\nper class results:\n${r.table}`);
  console.log(jsonLine({ task: 'seg-eval', checkpoint, images: r.numImages, ...r.metrics, ...segEvalSpeed(r), bad_files: r.badFiles, ...(r.workDir ? { work_dir: r.workDir } : {}) }));
}

/** `mff cls-eval`: stderr = top-1 / top-5 / mean class accuracy / images / img/s (unless quiet), stdout = one JSON line. */
export function printClsEval(s: ClsEvalSummary, opts: { quiet?: boolean } = {}): void {
  if (!opts.quiet) {
    console.error(formatClsMetrics({ images: s.dataset.images, topk: s.topk, top1: s['accuracy/top1'], top5: s['accuracy/top5'], meanClassAccuracy: s.mean_class_accuracy, perClass: [] }));
    console.error(`throughput: ${s.img_per_s.toPrecision(3)} img/s (wall clock, loading included)`);
  }
  const { per_class: _perClass, ...rest } = s;
  console.log(jsonLine(rest));
}
