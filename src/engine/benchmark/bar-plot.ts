/**
 * Grouped bar charts with error bars (SVG rasterised by sharp, like engine/plot.ts): one group per x label, one bar
 * per series, whiskers ± err. Missing or non-finite values leave a gap.
 */
import sharp from 'sharp';
import { writeFileAtomic } from '../../io/checkpoint.js';
import { niceTicks } from '../plot.js';

export interface BarSeries {
  name: string;
  values: number[];
  /** Half-length of the error bar per value (e.g. the std over seeds); NaN or absent = none. */
  err?: number[];
}

export interface BarPlot {
  title: string;
  yLabel: string;
  groups: string[];
  series: BarSeries[];
  width?: number;
  height?: number;
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#7f7f7f', '#2ca02c', '#d62728', '#9467bd'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function barPlotSvg(p: BarPlot): string {
  const W = p.width ?? Math.max(640, 90 + p.groups.length * (30 + 22 * p.series.length));
  const H = p.height ?? 420;
  const m = { l: 64, r: 16, t: 40, b: 96 };
  const tops = p.series.flatMap((s) => s.values.map((v, i) => v + (Number.isFinite(s.err?.[i]) ? s.err![i] : 0))).filter(Number.isFinite);
  const lows = p.series.flatMap((s) => s.values).filter(Number.isFinite);
  const lo = Math.min(0, ...lows);
  const hi = Math.max(lo + 1e-9, ...tops, 1e-9);
  const ticks = niceTicks(lo, hi);
  const y0 = ticks[0];
  // the ticks may end below the tallest bar (+ whisker): the axis then runs 5 % past it, so no bar reaches the title
  const y1 = Math.max(ticks[ticks.length - 1], hi + 0.05 * (hi - y0));
  const py = (v: number) => m.t + (H - m.t - m.b) * (1 - (v - y0) / (y1 - y0));
  const gw = (W - m.l - m.r) / p.groups.length;
  const bw = (gw * 0.8) / p.series.length;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`];
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(p.title)}</text>`);
  for (const t of ticks) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  }
  out.push(`<text transform="translate(16 ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
  p.groups.forEach((g, gi) => {
    const x0 = m.l + gi * gw + gw * 0.1;
    p.series.forEach((s, si) => {
      const v = s.values[gi];
      if (!Number.isFinite(v)) return;
      const x = x0 + si * bw;
      const top = py(Math.max(v, 0));
      const bottom = py(Math.min(v, 0));
      out.push(`<rect x="${x}" y="${top}" width="${bw * 0.92}" height="${Math.max(0.5, bottom - top)}" fill="${COLOURS[si % COLOURS.length]}"/>`);
      const e = s.err?.[gi];
      if (e !== undefined && Number.isFinite(e) && e > 0) {
        const cx = x + bw * 0.46;
        out.push(`<path d="M${cx} ${py(v - e)}V${py(v + e)}M${cx - 4} ${py(v - e)}h8M${cx - 4} ${py(v + e)}h8" stroke="black" fill="none"/>`);
      }
    });
    const lx = m.l + gi * gw + gw / 2;
    out.push(`<text transform="translate(${lx} ${H - m.b + 14}) rotate(-25)" text-anchor="end">${esc(g)}</text>`);
  });
  out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(0)}" y2="${py(0)}" stroke="black"/>`);
  p.series.forEach((s, si) => {
    const x = m.l + si * 130;
    out.push(`<rect x="${x}" y="${H - 22}" width="12" height="12" fill="${COLOURS[si % COLOURS.length]}"/><text x="${x + 16}" y="${H - 12}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

export async function barPlotPng(file: string, p: BarPlot): Promise<void> {
  writeFileAtomic(file, await sharp(Buffer.from(barPlotSvg(p))).png().toBuffer());
}
