/**
 * Run summaries: summary.json (the machine record) and summary.md (tables a person can paste into a paper),
 * both written atomically into the work directory.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../io/checkpoint.js';

export interface SummarySection {
  title: string;
  table?: { header: string[]; rows: (string | number)[][] };
  text?: string;
}

/**
 * Compact number formatting: integers as is; 4 significant digits in fixed notation for 1e-3 <= |x| < 1e5,
 * exponential (3 digits) outside; NaN/±Infinity spelled out. `digits` fixes the decimals instead.
 */
export function formatNumber(x: number, digits?: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (digits !== undefined) return x.toFixed(digits);
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a < 1e-3 || a >= 1e5) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

function cell(v: string | number): string {
  const s = typeof v === 'number' ? formatNumber(v) : v;
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A GitHub-flavoured markdown table; numeric columns are right-aligned. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  rows.forEach((r, i) => {
    if (r.length !== header.length) throw new Error(`markdownTable: row ${i} has ${r.length} cells, the header ${header.length}`);
  });
  const numeric = header.map((_, j) => rows.length > 0 && rows.every((r) => typeof r[j] === 'number'));
  const lines = [
    `| ${header.map(cell).join(' | ')} |`,
    `| ${numeric.map((n) => (n ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** JSON with NaN/Infinity kept readable (as strings) instead of JSON's silent null. */
function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x), 2) + '\n';
}

export function renderSummaryMarkdown(summary: Record<string, unknown>, sections: SummarySection[], title?: string): string {
  const task = typeof summary.task === 'string' ? summary.task : 'run';
  const parts = [`# ${title ?? `Summary: ${task}`}`];
  for (const s of sections) {
    parts.push(`## ${s.title}`);
    if (s.text) parts.push(s.text.trim());
    if (s.table) parts.push(markdownTable(s.table.header, s.table.rows));
  }
  return parts.join('\n\n') + '\n';
}

/** Write `dir/summary.json` (the summary object) and `dir/summary.md` (title, then each section). */
export function writeSummary(dir: string, summary: Record<string, unknown>, sections: SummarySection[], opts: { title?: string } = {}): void {
  const md = renderSummaryMarkdown(summary, sections, opts.title); // validates the tables before anything is written
  writeFileAtomic(join(dir, 'summary.json'), toJson(summary));
  writeFileAtomic(join(dir, 'summary.md'), md);
}
