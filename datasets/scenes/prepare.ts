/**
 * Builds datasets/scenes-mini: 64x64 RGB scenes of 2-4 real Fashion-MNIST items on a noisy textured canvas,
 * with ADE-style annotations (reduce_zero_label): 0 = ignore (soft item edges), 1 = background, 2..11 = items.
 *
 *   npx tsx datasets/scenes/prepare.ts [--src /usr/share/datasets/fashion-mnist] [--out datasets/scenes-mini] [--untinted]
 *   npx tsx datasets/scenes/prepare.ts --shape [--out datasets/scenes-shape]   (the shape-only set, datasets/scenes/shape.ts)
 *
 * Deterministic: one seeded Rng per scene. Training scenes use the Fashion-MNIST train set, validation the test set.
 *
 * Optional UNTINTED variant (`{ untinted: true }` / `--untinted`, for the pretrain-vs-scratch experiment, round 3):
 * every item gets a colour drawn from the same 10-colour TINTS palette but chosen at random per item, independently of
 * its class (from a separate Rng seeded `seed + UNTINTED_COLOUR_SEED_OFFSET`), so colour carries no class information
 * and the class must come from shape. The scene Rng stream is untouched, so an untinted scene has exactly the items,
 * sizes, positions, background and annotation of the tinted scene with the same index; only item colours differ.
 * Without the option the output is byte-identical to the original generator.
 */
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { Rng } from '../../src/io/rng.js';
import { encodePng8 } from '../../src/data/png.js';
import { resizeBilinear, resizeNearest } from '../../src/data/seg/resize.js';
import { prepareShapeScenes } from './shape.js';

const SIZE = 64;
const SEED = 20240613;
const COUNTS = { training: 200, validation: 50 } as const;
/** Item pixels: intensity > ITEM_T; the soft edge band (EDGE_T, ITEM_T] over background is ignored. */
const ITEM_T = 0.3;
const EDGE_T = 0.08;

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** Item tints (RGB), one per Fashion-MNIST class, far from the greyish background and from each other. */
export const TINTS: [number, number, number][] = [
  [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
  [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
];
const BACKGROUND_COLOUR: [number, number, number] = [120, 120, 120];

interface Idx {
  n: number;
  images: Uint8Array;
  labels: Uint8Array;
}

/** Gzipped IDX (magic 0x0803 images, 0x0801 labels), big-endian dims. */
function readIdx(dir: string, prefix: 'train' | 't10k'): Idx {
  const img = gunzipSync(readFileSync(join(dir, `${prefix}-images-idx3-ubyte.gz`)));
  const lab = gunzipSync(readFileSync(join(dir, `${prefix}-labels-idx1-ubyte.gz`)));
  if (img.readUInt32BE(0) !== 0x803 || lab.readUInt32BE(0) !== 0x801) throw new Error(`${dir}/${prefix}-*: bad IDX magic`);
  const n = img.readUInt32BE(4);
  if (img.readUInt32BE(8) !== 28 || img.readUInt32BE(12) !== 28 || lab.readUInt32BE(4) !== n) throw new Error(`${dir}/${prefix}-*: unexpected IDX shape`);
  return { n, images: new Uint8Array(img.subarray(16, 16 + n * 784)), labels: new Uint8Array(lab.subarray(8, 8 + n)) };
}

/** Greyish base colour + two oriented sinusoids (texture) + per-pixel Gaussian noise. Float RGB HWC. */
function background(rng: Rng): Float32Array {
  const out = new Float32Array(SIZE * SIZE * 3);
  const base = [rng.uniform(60, 170), 0, 0];
  base[1] = base[0] + rng.uniform(-20, 20);
  base[2] = base[0] + rng.uniform(-20, 20);
  const waves = [0, 1].map(() => ({ fx: rng.uniform(-0.4, 0.4), fy: rng.uniform(-0.4, 0.4), ph: rng.uniform(0, 2 * Math.PI), amp: rng.uniform(8, 25) }));
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let t = 0;
      for (const w of waves) t += w.amp * Math.sin(w.fx * x + w.fy * y + w.ph);
      for (let c = 0; c < 3; c++) out[(y * SIZE + x) * 3 + c] = base[c] + t + 10 * rng.normal();
    }
  }
  return out;
}

/** Per-item colour Rng of the untinted variant: `Rng(sceneSeed + UNTINTED_COLOUR_SEED_OFFSET)`. */
export const UNTINTED_COLOUR_SEED_OFFSET = 7_000_000;

export interface SceneOptions {
  /** Colour each item with a random TINTS entry independent of its class (default false = class tint). */
  untinted?: boolean;
}

/** `colourRng` set = untinted variant: item colours from it, class-independent; the scene `rng` stream is unchanged. */
function scene(rng: Rng, data: Idx, colourRng?: Rng): { rgb: Uint8Array; ann: Uint8Array } {
  const img = background(rng);
  const ann = new Uint8Array(SIZE * SIZE).fill(1);
  const items = 2 + rng.int(3);
  for (let k = 0; k < items; k++) {
    const idx = rng.int(data.n);
    const cls = data.labels[idx];
    const s = 20 + rng.int(21); // 20..40 px
    const item28 = data.images.subarray(idx * 784, (idx + 1) * 784);
    const item = rng.random() < 0.5 ? resizeNearest(item28, 28, 28, 1, s, s) : resizeBilinear(item28, 28, 28, 1, s, s);
    const x0 = rng.int(SIZE - s + 1);
    const y0 = rng.int(SIZE - s + 1);
    const tint = colourRng ? TINTS[colourRng.int(TINTS.length)] : TINTS[cls];
    const shade = rng.uniform(0.75, 1.1);
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const v = item[y * s + x] / 255;
        if (v <= EDGE_T) continue;
        const p = (y0 + y) * SIZE + x0 + x;
        // alpha-composite the tinted item (its own texture modulates the tint)
        for (let c = 0; c < 3; c++) img[p * 3 + c] = (1 - v) * img[p * 3 + c] + v * tint[c] * shade * (0.55 + 0.45 * v);
        if (v > ITEM_T) ann[p] = 2 + cls;
        else if (ann[p] === 1) ann[p] = 0; // soft edge over background: ignore
      }
    }
  }
  const rgb = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) rgb[i] = Math.max(0, Math.min(255, Math.round(img[i])));
  return { rgb, ann };
}

/** Write the whole dataset to `out` (replacing it). `log` receives one summary line per split. */
export async function prepareScenes(src: string, out: string, log: (line: string) => void = console.log, opts: SceneOptions = {}): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  const sets = { training: readIdx(src, 'train'), validation: readIdx(src, 't10k') };
  for (const split of ['training', 'validation'] as const) {
    await mkdir(join(out, 'images', split), { recursive: true });
    await mkdir(join(out, 'annotations', split), { recursive: true });
    const counts = new Float64Array(12);
    for (let i = 0; i < COUNTS[split]; i++) {
      const sceneSeed = SEED + (split === 'training' ? 0 : 1_000_000) + i;
      const { rgb, ann } = scene(new Rng(sceneSeed), sets[split], opts.untinted ? new Rng(sceneSeed + UNTINTED_COLOUR_SEED_OFFSET) : undefined);
      for (const v of ann) counts[v]++;
      const name = `scene_${split === 'training' ? 'train' : 'val'}_${String(i).padStart(4, '0')}`;
      await sharp(rgb, { raw: { width: SIZE, height: SIZE, channels: 3 } }).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toFile(join(out, 'images', split, `${name}.jpg`));
      await writeFile(join(out, 'annotations', split, `${name}.png`), encodePng8(ann, SIZE, SIZE));
    }
    const total = COUNTS[split] * SIZE * SIZE;
    log(`${split}: ${COUNTS[split]} scenes; pixel share ignore ${((100 * counts[0]) / total).toFixed(1)}%, background ${((100 * counts[1]) / total).toFixed(1)}%, items ${((100 * (total - counts[0] - counts[1])) / total).toFixed(1)}%`);
  }
  const meta = {
    name: opts.untinted ? 'scenes-mini-untinted' : 'scenes-mini',
    classes: ['background', ...FASHION_CLASSES],
    palette: [BACKGROUND_COLOUR, ...TINTS],
    reduce_zero_label: true,
    img_suffix: '.jpg',
    seg_map_suffix: '.png',
    size: [SIZE, SIZE],
    seed: SEED,
    source: 'Fashion-MNIST (Zalando Research, MIT licence)',
    ...(opts.untinted ? { untinted: true, note: 'item colour is a random palette entry per item, independent of class; palette is for visualisation only' } : {}),
  };
  await writeFile(join(out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  log(`wrote ${out}`);
}

/** Rng seed offset of `generateUnlabeledScenes`: far from the bundled splits (training SEED + 0..199, validation SEED + 1e6 + i). */
export const UNLABELED_SEED_OFFSET = 2_000_000;

/**
 * Extra *unlabeled* training-distribution scenes for self-supervised pretraining: scene `i` (start <= i < start + count)
 * is drawn exactly like a bundled training scene (Fashion-MNIST train-set items, same generator) but from
 * `Rng(SEED + UNLABELED_SEED_OFFSET + i)`, so it never coincides with a bundled training or validation scene (and never
 * uses a test-set item, which validation draws from). Only images are written, `<outDir>/unlabeled_<i>.jpg`; the
 * bundled dataset is not touched. Returns the file paths. `opts.untinted`: the untinted variant (see the file header).
 */
export async function generateUnlabeledScenes(src: string, outDir: string, start: number, count: number, opts: SceneOptions = {}): Promise<string[]> {
  if (start < 0 || count < 0 || !Number.isInteger(start) || !Number.isInteger(count)) throw new Error(`generateUnlabeledScenes: bad range ${start}+${count}`);
  const data = readIdx(src, 'train');
  await mkdir(outDir, { recursive: true });
  const files: string[] = [];
  for (let i = start; i < start + count; i++) {
    const sceneSeed = SEED + UNLABELED_SEED_OFFSET + i;
    const { rgb } = scene(new Rng(sceneSeed), data, opts.untinted ? new Rng(sceneSeed + UNTINTED_COLOUR_SEED_OFFSET) : undefined);
    const file = join(outDir, `unlabeled_${String(i).padStart(6, '0')}.jpg`);
    await sharp(rgb, { raw: { width: SIZE, height: SIZE, channels: 3 } }).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toFile(file);
    files.push(file);
  }
  return files;
}

async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const args = process.argv.slice(2);
  const arg = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
  const src = arg('--src', '/usr/share/datasets/fashion-mnist');
  if (args.includes('--shape')) await prepareShapeScenes(src, resolve(arg('--out', join(here, '../scenes-shape'))));
  else await prepareScenes(src, resolve(arg('--out', join(here, '../scenes-mini'))), console.log, { untinted: args.includes('--untinted') });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
