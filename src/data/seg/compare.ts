/**
 * The segmentation comparison picture (`--show-dir`): image | ground truth | prediction side by side, label maps in
 * the dataset's palette (ignored pixels black), upscaled by an integer factor to be readable, and a legend of the
 * classes present in the ground truth or the prediction (most pixels first).
 */
import type { RgbImage } from '../image.js';
import type { LabelMap } from './labels.js';
import { Canvas, type RgbPixels } from '../../io/canvas.js';

export const COMPARE_PANELS = ['image', 'ground truth', 'prediction'] as const;

/** Colour a label map with `palette`; `ignoreIndex` (and labels without a colour) black. */
export function colorize(label: LabelMap, palette: readonly (readonly number[])[], ignoreIndex = 255): RgbPixels {
  const data = new Uint8Array(label.width * label.height * 3);
  for (let i = 0; i < label.data.length; i++) {
    const l = label.data[i];
    if (l === ignoreIndex || l >= palette.length) continue;
    data[i * 3] = palette[l][0];
    data[i * 3 + 1] = palette[l][1];
    data[i * 3 + 2] = palette[l][2];
  }
  return { data, width: label.width, height: label.height };
}

/** Classes present in the maps, by decreasing pixel count (ignored pixels excluded). */
export function classesPresent(maps: readonly LabelMap[], numClasses: number, ignoreIndex = 255): number[] {
  const count = new Float64Array(numClasses);
  for (const m of maps) for (const l of m.data) if (l !== ignoreIndex && l < numClasses) count[l]++;
  return [...count.keys()].filter((k) => count[k] > 0).sort((a, b) => count[b] - count[a] || a - b);
}

export interface CompareLayout {
  scale: number;
  width: number;
  height: number;
  legendRows: number;
}

const GAP = 8;
const HEAD = 24;
const LEGEND_ROW = 20;

/** The picture's geometry: each panel ×scale (images shorter than 256 px are enlarged), legend rows below. */
export function compareLayout(w: number, h: number, legendEntries: readonly string[]): CompareLayout {
  const scale = Math.max(1, Math.floor(256 / Math.max(w, h)));
  const width = 3 * w * scale + 4 * GAP;
  const colW = Math.max(...legendEntries.map((n) => n.length * 7 + 30), 80);
  const perRow = Math.max(1, Math.floor((width - GAP) / colW));
  const legendRows = Math.ceil(legendEntries.length / perRow);
  return { scale, width, height: HEAD + h * scale + GAP + legendRows * LEGEND_ROW + GAP, legendRows };
}

/** Draw and write the comparison PNG. `gt` and `pred` are label indices (after reduce_zero_label) at the image size. */
export async function writeComparisonPng(
  file: string,
  image: RgbImage,
  gt: LabelMap,
  pred: LabelMap,
  meta: { classes: readonly string[]; palette: readonly (readonly number[])[] },
  opts: { ignoreIndex?: number; title?: string } = {},
): Promise<void> {
  const { ignoreIndex = 255 } = opts;
  for (const [name, m] of [['ground truth', gt], ['prediction', pred]] as const) {
    if (m.width !== image.width || m.height !== image.height) {
      throw new Error(`${file}: ${name} is ${m.width}x${m.height} but the image is ${image.width}x${image.height}`);
    }
  }
  const present = classesPresent([gt, pred], meta.classes.length, ignoreIndex);
  const names = present.map((k) => meta.classes[k].trim());
  const L = compareLayout(image.width, image.height, names);
  const canvas = new Canvas(L.width, L.height);
  const pw = image.width * L.scale;
  [image, colorize(gt, meta.palette, ignoreIndex), colorize(pred, meta.palette, ignoreIndex)].forEach((p, j) => {
    const x = GAP + j * (pw + GAP);
    canvas.blit(p, x, HEAD, L.scale);
    canvas.text({ text: j === 0 && opts.title ? opts.title : COMPARE_PANELS[j], x: x + pw / 2, y: HEAD - 7, size: 13, anchor: 'middle' });
  });
  // legend: swatch + class name, row-major
  const colW = Math.max(...names.map((n) => n.length * 7 + 30), 80);
  const perRow = Math.max(1, Math.floor((L.width - GAP) / colW));
  const top = HEAD + image.height * L.scale + GAP;
  present.forEach((k, i) => {
    const x = GAP + (i % perRow) * colW;
    const y = top + Math.floor(i / perRow) * LEGEND_ROW;
    canvas.fill(x, y + 3, 14, 14, [40, 40, 40]);
    canvas.fill(x + 1, y + 4, 12, 12, meta.palette[k]);
    canvas.text({ text: names[i], x: x + 20, y: y + 15, size: 12 });
  });
  await canvas.writePng(file);
}
