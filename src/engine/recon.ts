/**
 * The MAE/MFF reconstruction grid, the picture every masked-image-modelling user looks at (mmpretrain's MAE
 * visualisation, after MAE's demo/mae_visualize.ipynb): for a fixed set of images and a fixed mask, one row per
 * image with the columns
 *   original | masked | reconstruction | reconstruction + visible
 * where masked = x · (1 − mask) (removed patches show the dataset mean, as mmpretrain un-normalises after masking),
 * reconstruction = the decoder's prediction with norm-pix undone by each patch's own statistics
 * (models/mae.ts reconstruct), and reconstruction + visible = x · (1 − mask) + pred · mask. Pixels are
 * un-normalised with the data mean/std and upscaled (nearest) so patches stay readable.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { PretrainConfig } from '../config/pretrain.js';
import { drawNoise, randomMasking, reconstruct, type PretrainModel } from '../models/mae.js';
import { decodeImage } from '../data/image.js';
import { scanImageFolder } from '../data/imagenet.js';
import type { BadFiles } from '../data/bad-files.js';
import { buildEvalTransform } from '../data/transforms.js';
import { Rng } from '../io/rng.js';
import { Canvas, type RgbPixels } from '../io/canvas.js';

export const RECON_COLUMNS = ['original', 'masked', 'reconstruction', 'reconstruction + visible'] as const;

/** The fixed images of a grid: normalised [n, S, S, 3] and their files. */
export interface ReconImages {
  images: Float32Array;
  files: string[];
  size: number;
}

/**
 * `count` images spread evenly over the held-out split (`val` when the dataset has one, else the training split),
 * with the deterministic eval transform of tools/test.ts (resize short side S·256/224, centre crop S). An image that
 * cannot be used stops with one line naming it, or with a skipping `bad` policy is counted there and replaced by
 * the next usable one.
 */
export async function loadReconImages(cfg: PretrainConfig, count = cfg.model.imgSize <= 64 ? 8 : 4, bad?: BadFiles): Promise<ReconImages> {
  const root = resolve(cfg.data.root);
  const split = existsSync(join(root, 'val')) ? 'val' : cfg.data.split;
  const { records } = scanImageFolder(root, split, { ...(split === cfg.data.split ? { annFile: cfg.data.annFile } : {}), ...(bad ? { bad } : {}) });
  const n = Math.min(count, records.length);
  const S = cfg.model.imgSize;
  const t = buildEvalTransform({ resize: Math.floor((S * 256) / 224), crop: S, interp: 'bilinear' }, cfg.data.mean, cfg.data.std);
  const starts = Array.from({ length: n }, (_, i) => Math.floor((i * records.length) / n));
  const picks: string[] = [];
  const out: Float32Array[] = [];
  const used = new Set<number>();
  for (const start of starts) {
    for (let k = start; k < start + records.length; k++) {
      const j = k % records.length;
      if (used.has(j) || bad?.has(records[j].file)) continue;
      used.add(j);
      try {
        out.push(await t(await decodeImage(records[j].file), new Rng(0)));
        picks.push(records[j].file);
        break;
      } catch (err) {
        if (!bad) throw err;
        bad.handle(records[j].file, err); // rethrows unless skipping
      }
    }
  }
  const images = new Float32Array(picks.length * S * S * 3);
  out.forEach((x, i) => images.set(x, i * S * S * 3));
  return { images, files: picks, size: S };
}

/** The four panels of every image, 8-bit RGB [n][4]. */
export function reconPanels(model: PretrainModel, batch: ReconImages, mean: readonly number[], std: readonly number[], seed = 0): RgbPixels[][] {
  const S = batch.size;
  const n = batch.files.length;
  const p = model.cfg.patchSize;
  const g = S / p;
  const mk = randomMasking(drawNoise(new Rng(seed), n, model.numPatches), n, model.numPatches, model.lenKeep);
  const predT = tf.tidy(() => reconstruct(model, tf.tensor4d(batch.images, [n, S, S, 3]), mk));
  const pred = predT.dataSync(); // [n, L, p*p*3], patch vector order (row in patch, column in patch, channel)
  predT.dispose();
  const toRgb = (v: Float32Array): RgbPixels => {
    const data = new Uint8Array(S * S * 3);
    for (let i = 0; i < S * S * 3; i++) data[i] = Math.max(0, Math.min(255, Math.round(v[i] * std[i % 3] + mean[i % 3])));
    return { data, width: S, height: S };
  };
  const rows: RgbPixels[][] = [];
  for (let b = 0; b < n; b++) {
    const x = batch.images.subarray(b * S * S * 3, (b + 1) * S * S * 3);
    const masked = new Float32Array(S * S * 3);
    const rec = new Float32Array(S * S * 3);
    const paste = new Float32Array(S * S * 3);
    for (let y = 0; y < S; y++) {
      for (let xx = 0; xx < S; xx++) {
        const l = Math.floor(y / p) * g + Math.floor(xx / p); // patch index (row-major grid)
        const removed = mk.mask[b * model.numPatches + l] === 1;
        for (let c = 0; c < 3; c++) {
          const i = (y * S + xx) * 3 + c;
          const v = pred[(b * model.numPatches + l) * p * p * 3 + ((y % p) * p + (xx % p)) * 3 + c]; // unpatchify
          rec[i] = v;
          masked[i] = removed ? 0 : x[i];
          paste[i] = removed ? v : x[i];
        }
      }
    }
    rows.push([toRgb(x), toRgb(masked), toRgb(rec), toRgb(paste)]);
  }
  return rows;
}

/** Nearest-neighbour upscale of each panel: at least 160 px wide, so patches and the column titles are readable. */
export function reconScale(size: number): number {
  return Math.max(1, Math.ceil(160 / size));
}

/** Compose the grid (column titles on top, one row per image) and write it as a PNG. */
export async function writeReconGrid(file: string, rows: RgbPixels[][], title?: string): Promise<void> {
  if (rows.length === 0) throw new Error(`${file}: no images to draw`);
  const S = rows[0][0].width;
  const scale = reconScale(S);
  const cell = S * scale;
  const gap = 6;
  const head = title ? 44 : 24;
  const cols = RECON_COLUMNS.length;
  const canvas = new Canvas(cols * cell + (cols + 1) * gap, head + rows.length * (cell + gap) + gap);
  if (title) canvas.text({ text: title, x: canvas.width / 2, y: 18, size: 14, anchor: 'middle', bold: true });
  RECON_COLUMNS.forEach((name, j) => canvas.text({ text: name, x: gap + j * (cell + gap) + cell / 2, y: head - 6, size: 12, anchor: 'middle' }));
  rows.forEach((row, i) => row.forEach((img, j) => canvas.blit(img, gap + j * (cell + gap), head + gap + i * (cell + gap), scale)));
  await canvas.writePng(file);
}

/** `write(file, title)` draws the current model's grid (end of run, every N epochs, tools/test.ts); the images load once, on first use. */
export function reconGridWriter(cfg: PretrainConfig, model: PretrainModel, images?: ReconImages): (file: string, title?: string) => Promise<void> {
  let batch: Promise<ReconImages> | null = images ? Promise.resolve(images) : null;
  return async (file, title) => {
    batch ??= loadReconImages(cfg);
    await writeReconGrid(file, reconPanels(model, await batch, cfg.data.mean, cfg.data.std), title);
  };
}
