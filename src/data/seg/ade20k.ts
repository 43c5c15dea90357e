/**
 * Segmentation datasets in the ADE20K layout (mmseg `BaseSegDataset` / `ADE20KDataset`):
 *
 *   <root>/images/{training,validation}/**\/*<imgSuffix>     <root>/annotations/{training,validation}/**\/*<segMapSuffix>
 *
 * Images are listed recursively and sorted by path; the annotation has the same relative path with the seg-map suffix.
 * A dataset root may hold a `meta.json` ({ classes, palette, reduce_zero_label, img_suffix?, seg_map_suffix? });
 * without one the root is taken to be ADE20K (150 classes, reduce_zero_label = true, .jpg / .png).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage, type RgbImage } from '../image.js';
import type { BadFiles } from '../bad-files.js';
import { listFilesRecursive } from '../walk.js';
import { readLabelPng, reduceZeroLabel, type LabelMap } from './labels.js';
import { ADE20K_CLASSES, ADE20K_PALETTE } from './palette.js';

export type Split = 'training' | 'validation';
export type Rgb = readonly [number, number, number];

export interface SegDatasetMeta {
  /** Class names after reduce_zero_label; label k is classes[k]. */
  classes: readonly string[];
  palette: readonly Rgb[];
  reduceZeroLabel: boolean;
  imgSuffix: string;
  segMapSuffix: string;
  ignoreIndex: number;
}

export const ADE20K_META: SegDatasetMeta = Object.freeze({
  classes: ADE20K_CLASSES,
  palette: ADE20K_PALETTE,
  reduceZeroLabel: true,
  imgSuffix: '.jpg',
  segMapSuffix: '.png',
  ignoreIndex: 255,
});

export interface SegSample {
  img: string;
  ann: string;
}

export interface SegDataset {
  root: string;
  split: Split;
  meta: SegDatasetMeta;
  /** Sorted by image path (mmseg `sorted(data_list, key=img_path)`). */
  samples: SegSample[];
}

/** A decoded training/eval pair: image HWC RGB, label HW after reduce_zero_label. */
export interface SegPair {
  image: RgbImage;
  label: LabelMap;
  file: string;
}

/** Read `<root>/meta.json`, or fall back to ADE20K. Validates the fields it reads. */
export async function loadSegMeta(root: string): Promise<SegDatasetMeta> {
  // a missing root must not fall through to the ADE20K defaults (and a misleading class-count error)
  requireRootDir(root);
  const file = join(root, 'meta.json');
  if (!existsSync(file)) {
    requireLayout(root);
    return ADE20K_META;
  }
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot parse dataset meta (${(err as Error).message})`, { cause: err });
  }
  const classes = j.classes;
  const palette = j.palette;
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string')) {
    throw new Error(`${file}: 'classes' must be a non-empty array of strings`);
  }
  if (classes.length > 255) throw new Error(`${file}: ${classes.length} classes do not fit uint8 labels with ignore 255`);
  if (!Array.isArray(palette) || palette.length !== classes.length) {
    throw new Error(`${file}: 'palette' must have one [r, g, b] per class (${classes.length}), got ${Array.isArray(palette) ? palette.length : typeof palette}`);
  }
  palette.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 3 || !p.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
      throw new Error(`${file}: palette[${i}] = ${JSON.stringify(p)} is not an [r, g, b] triple of 0..255`);
    }
  });
  if (typeof j.reduce_zero_label !== 'boolean') throw new Error(`${file}: 'reduce_zero_label' must be true or false`);
  return Object.freeze({
    classes: classes as string[],
    palette: palette as Rgb[],
    reduceZeroLabel: j.reduce_zero_label,
    imgSuffix: typeof j.img_suffix === 'string' ? j.img_suffix : '.jpg',
    segMapSuffix: typeof j.seg_map_suffix === 'string' ? j.seg_map_suffix : '.png',
    ignoreIndex: 255,
  });
}

function requireRootDir(root: string): void {
  const s = statSync(root, { throwIfNoEntry: false });
  if (!s) throw new Error(`${root}: dataset root not found`);
  if (!s.isDirectory()) throw new Error(`${root}: dataset root is a file, not a directory (expected <root>/images and <root>/annotations)`);
}

/** A root without meta.json is taken to be ADE20K only if it has the ADE20K layout. */
function requireLayout(root: string): void {
  const missing = ['images', 'annotations'].filter((d) => !statSync(join(root, d), { throwIfNoEntry: false })?.isDirectory());
  if (missing.length) throw new Error(`${root}: no ${missing.map((d) => `${d}/`).join(' or ')} folder (expected the ADE20K layout <root>/images/<split>, <root>/annotations/<split>)`);
}

/**
 * List the image/annotation pairs of one split. Strict: an image without annotation, an annotation without image,
 * a symlink loop or a broken link throws naming the file; with `bad` skipping they are left out and counted.
 */
export async function scanSegDataset(root: string, split: Split, opts: { meta?: SegDatasetMeta; bad?: BadFiles } = {}): Promise<SegDataset> {
  const meta = opts.meta ?? (await loadSegMeta(root));
  requireRootDir(root);
  const imgDir = join(root, 'images', split);
  const annDir = join(root, 'annotations', split);
  for (const d of [imgDir, annDir]) {
    const s = await stat(d).catch(() => null);
    if (!s?.isDirectory()) throw new Error(`${d}: dataset directory not found (expected <root>/images/${split} and <root>/annotations/${split})`);
  }
  const stem = (rel: string, suffix: string) => rel.slice(0, rel.length - suffix.length);
  const imgs = listFilesRecursive(imgDir, opts.bad).filter((f) => f.endsWith(meta.imgSuffix)).sort();
  const anns = new Set(listFilesRecursive(annDir, opts.bad).filter((f) => f.endsWith(meta.segMapSuffix)).map((f) => stem(f, meta.segMapSuffix)));
  if (imgs.length === 0) throw new Error(`${imgDir}: no '*${meta.imgSuffix}' images found`);
  const fail = (file: string, msg: string) => {
    const err = new Error(`${file}: ${msg}`);
    if (!opts.bad) throw err;
    opts.bad.handle(file, err);
  };
  const samples: SegSample[] = [];
  for (const rel of imgs) {
    const img = join(imgDir, rel);
    const key = stem(rel, meta.imgSuffix);
    const ann = join(annDir, key + meta.segMapSuffix);
    if (anns.delete(key)) samples.push({ img, ann });
    else fail(img, `missing annotation ${ann}`);
  }
  for (const key of [...anns].sort()) fail(join(annDir, key + meta.segMapSuffix), `annotation without an image (no ${join(imgDir, key + meta.imgSuffix)})`);
  if (samples.length === 0) throw new Error(`${imgDir}: no image has an annotation in ${annDir}`);
  return { root, split, meta, samples };
}

/** Load a label map the way mmseg `LoadAnnotations` does (reduce if the dataset says so) and validate its values. */
export async function loadSegLabel(file: string, meta: SegDatasetMeta): Promise<LabelMap> {
  const raw = await readLabelPng(file);
  const label = meta.reduceZeroLabel ? { ...raw, data: reduceZeroLabel(raw.data) } : raw;
  checkLabelValues(label, meta, file);
  return label;
}

/** Every value must be a class index or the ignore index (after reduction). */
export function checkLabelValues(label: LabelMap, meta: SegDatasetMeta, file: string): void {
  const n = meta.classes.length;
  const d = label.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v >= n && v !== meta.ignoreIndex) {
      const stored = meta.reduceZeroLabel ? `stored value ${v + 1}, ` : '';
      throw new Error(
        `${file}: label value ${v} (${stored}after reduce_zero_label=${meta.reduceZeroLabel}) at (x=${i % label.width}, y=${Math.floor(i / label.width)}) ` +
          `is not a class index (0..${n - 1}) or ignore (${meta.ignoreIndex})`,
      );
    }
  }
}

/** Decode one image + label pair; the two must have the same size. */
export async function loadSegPair(sample: SegSample, meta: SegDatasetMeta): Promise<SegPair> {
  const [image, label] = await Promise.all([decodeImage(sample.img), loadSegLabel(sample.ann, meta)]);
  if (image.width !== label.width || image.height !== label.height) {
    throw new Error(`${sample.ann}: annotation is ${label.width}x${label.height} but image ${sample.img} is ${image.width}x${image.height}`);
  }
  return { image, label, file: sample.img };
}
