/**
 * Line plots without a browser: an SVG (axes, 1-2-5 ticks or decades on a log axis, labels, legend, one polyline
 * per series) rasterised to PNG by sharp (librsvg). Non-finite points, and y <= 0 on a log axis, are skipped and
 * break the line.
 */
import sharp from 'sharp';
import { writeFileAtomic } from '../io/checkpoint.js';

export interface Series {
  name: string;
  x: number[];
  y: number[];
}

export interface LinePlot {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
  width?: number;
  height?: number;
}

// matplotlib tab10
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `n` "nice" ticks (steps 1, 2, 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, n - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  // integer multiples of the step, rounded to drop float noise (0.6000000000000001)
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}

/** Ticks for a log axis given log10 bounds: decades (thinned to <= 8), or 1-2-5 × 10^k when fewer than 3 decades fit. */
export function logTicks(e0: number, e1: number): number[] {
  const decades: number[] = [];
  for (let d = Math.ceil(e0 - 1e-9); d <= e1 + 1e-9; d++) decades.push(d);
  if (decades.length >= 3) {
    const every = Math.ceil(decades.length / 8);
    return decades.filter((d) => d % every === 0).map((d) => Number((10 ** d).toPrecision(12)));
  }
  const out: number[] = [];
  for (let d = Math.floor(e0) - 1; d <= Math.ceil(e1); d++) {
    for (const m of [1, 2, 5]) {
      const e = d + Math.log10(m);
      if (e >= e0 - 1e-9 && e <= e1 + 1e-9) out.push(Number((m * 10 ** d).toPrecision(12)));
    }
  }
  return out;
}

function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (v === 0) return '0';
  if (a >= 1e5 || a < 1e-3) return v.toExponential(a >= 1e5 && Number.isInteger(v / 10 ** Math.floor(Math.log10(a))) ? 0 : 1);
  return String(Number(v.toPrecision(4)));
}

function extent(vals: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of vals) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Build the SVG text (exported for tests). */
export function linePlotSvg(p: LinePlot): string {
  const { title, xLabel, yLabel, series, logY = false, width = 800, height = 500 } = p;
  series.forEach((s) => {
    if (s.x.length !== s.y.length) throw new Error(`linePlot '${title}': series '${s.name}' has ${s.x.length} x values and ${s.y.length} y values`);
  });
  const ok = (x: number, y: number) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0);
  const pts = series.map((s) => s.x.map((x, i) => [x, s.y[i]] as const).filter(([x, y]) => ok(x, y)));
  const allX = pts.flatMap((ps) => ps.map(([x]) => x));
  const allY = pts.flatMap((ps) => ps.map(([, y]) => (logY ? Math.log10(y) : y)));

  const m = { left: 78, right: 20, top: 40, bottom: 56 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="${m.left + pw / 2}" y="${height - 12}" text-anchor="middle" font-size="13">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13">${esc(yLabel)}${logY ? ' (log)' : ''}</text>`,
  ];

  if (allX.length === 0) {
    parts.push(`<text x="${m.left + pw / 2}" y="${m.top + ph / 2}" text-anchor="middle" font-size="14" fill="#888">no finite data</text>`);
    parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`, '</svg>');
    return parts.join('\n');
  }

  let [x0, x1] = extent(allX);
  let [y0, y1] = extent(allY);
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = logY ? [y0 - 0.5, y1 + 0.5] : [y0 - (Math.abs(y0) || 1) * 0.1, y1 + (Math.abs(y1) || 1) * 0.1];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.top + ph - (((logY ? Math.log10(y) : y) - y0) / (y1 - y0)) * ph;

  // grid + ticks
  for (const t of niceTicks(x0, x1)) {
    const X = sx(t).toFixed(1);
    parts.push(`<line x1="${X}" y1="${m.top}" x2="${X}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${X}" y="${m.top + ph + 18}" text-anchor="middle" font-size="11">${tickLabel(t)}</text>`);
  }
  const yTicks = logY ? logTicks(y0, y1) : niceTicks(y0, y1);
  for (const t of yTicks) {
    const Y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.left}" y1="${Y}" x2="${m.left + pw}" y2="${Y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${Y}" dy="4" text-anchor="end" font-size="11">${tickLabel(t)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);

  // series: a polyline per run of consecutive valid points
  series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    let run: string[] = [];
    const flush = () => {
      if (run.length === 1) parts.push(`<circle cx="${run[0].split(',')[0]}" cy="${run[0].split(',')[1]}" r="2" fill="${color}"/>`);
      else if (run.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${run.join(' ')}"/>`);
      run = [];
    };
    s.x.forEach((x, i) => {
      if (ok(x, s.y[i])) run.push(`${sx(x).toFixed(1)},${sy(s.y[i]).toFixed(1)}`);
      else flush();
    });
    flush();
  });

  // legend (top right, inside the plot)
  if (series.length > 1 || series[0]?.name) {
    const lw = Math.max(...series.map((s) => s.name.length)) * 7 + 36;
    const lx = m.left + pw - lw - 8;
    parts.push(`<rect x="${lx}" y="${m.top + 8}" width="${lw}" height="${series.length * 18 + 8}" fill="white" fill-opacity="0.85" stroke="#bbb"/>`);
    series.forEach((s, k) => {
      const y = m.top + 22 + k * 18;
      parts.push(`<line x1="${lx + 8}" y1="${y - 4}" x2="${lx + 26}" y2="${y - 4}" stroke="${PALETTE[k % PALETTE.length]}" stroke-width="2.5"/>`);
      parts.push(`<text x="${lx + 32}" y="${y}" font-size="11">${esc(s.name)}</text>`);
    });
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Render the plot to a PNG file (atomic write). */
export async function linePlotPng(file: string, p: LinePlot): Promise<void> {
  const svg = linePlotSvg(p);
  let png: Buffer;
  try {
    png = await sharp(Buffer.from(svg)).png().toBuffer();
  } catch (e) {
    throw new Error(`${file}: rendering plot '${p.title}' failed (${(e as Error).message})`);
  }
  writeFileAtomic(file, png);
}
