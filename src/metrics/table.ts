/** Per-class results table, as mmseg logs it (PrettyTable `Class | IoU | Acc | ...`), or as markdown. */
import type { ClassMetricKey, IoUResult } from './iou.js';

/** Python `str(np.float32(v))` for the already-rounded percentages: 50 -> "50.0", NaN -> "nan". */
export function formatPercent(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

function rows(result: IoUResult, classNames: readonly string[]): { header: string[]; body: string[][] } {
  const keys = Object.keys(result.perClassPercent) as ClassMetricKey[];
  const n = result.perClassPercent[keys[0]]?.length ?? 0;
  if (classNames.length !== n) throw new Error(`formatClassTable: ${classNames.length} class names for ${n} classes`);
  const body = classNames.map((name, c) => [name, ...keys.map((k) => formatPercent(result.perClassPercent[k]![c]))]);
  return { header: ['Class', ...keys], body };
}

function center(s: string, w: number): string {
  const pad = w - s.length;
  // PrettyTable._justify (matches str.center): odd padding goes right for odd-length text, left for even
  const left = pad % 2 && s.length % 2 === 0 ? (pad >> 1) + 1 : pad >> 1;
  return ' '.repeat(left) + s + ' '.repeat(pad - left);
}

/** PrettyTable default style: centred cells, one space of padding, +---+ rulers. */
export function formatClassTable(result: IoUResult, classNames: readonly string[]): string {
  const { header, body } = rows(result, classNames);
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)));
  const rule = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const line = (cells: string[]) => '| ' + cells.map((c, j) => center(c, widths[j])).join(' | ') + ' |';
  return [rule, line(header), rule, ...body.map(line), rule].join('\n');
}

/** GitHub markdown table (class names left, numbers right-aligned). */
export function formatClassTableMarkdown(result: IoUResult, classNames: readonly string[]): string {
  const { header, body } = rows(result, classNames);
  const sep = header.map((_, j) => (j === 0 ? ':---' : '---:'));
  return [header, sep, ...body].map((r) => '| ' + r.join(' | ') + ' |').join('\n');
}

/** One summary line in mmengine's style: `aAcc: 63.0000  mIoU: 39.8200  mAcc: 64.0900`. */
export function formatSummary(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}: ${v.toFixed(4)}`)
    .join('  ');
}
