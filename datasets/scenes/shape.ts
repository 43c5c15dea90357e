/**
 * scenes-shape: the shape-only variant of the bundled scenes (issue 10), a segmentation set whose classes can be told
 * apart only by silhouette, so that what the backbone has learned decides the score.
 *
 *   npx tsx datasets/scenes/prepare.ts --shape [--src /usr/share/datasets/fashion-mnist] [--out datasets/scenes-shape]
 *
 * Differences from scenes-mini (datasets/scenes/README.md says why each one is there):
 * - 5 silhouette-distinct groups of the 10 Fashion-MNIST classes (tops, trousers, dresses, footwear, bags); the group
 *   is drawn uniformly, then an item of that group uniformly, so every group has the same share of items;
 * - appearance drawn independently of the class: a random item colour (kept ≥ MIN_CONTRAST away from the background's
 *   base colour so the item stays visible), a random contrast of the item's own texture and a 50 % chance of
 *   inverting that texture; the background is textured (two oriented sinusoids + noise) with a random base colour;
 * - 2–3 items of 24–40 px on a 64 px canvas, size independent of the class: 3–5 patches of the benchmark's 8-px
 *   patches; the unlabeled pretraining pool comes from the same generator, so pretraining sees the items at the same
 *   scale (its RandomResizedCrop also zooms them up to ~2×, the scale of a whole Fashion-MNIST image at 64 px);
 *   position uniform; later items occlude earlier ones;
 * - the item's silhouette (intensity > ITEM_T) is labelled, its soft edge (EDGE_T, ITEM_T] over background ignored.
 * Deterministic: scene i of a split is drawn from Rng(SEED + offset + i) alone.
 */
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { Rng } from '../../src/io/rng.js';
import { encodePng8 } from '../../src/data/png.js';
import { resizeBilinear, resizeNearest } from '../../src/data/seg/resize.js';

export const SHAPE_SIZE = 64;
export const SHAPE_SEED = 20261202;
export const SHAPE_COUNTS = { training: 1000, validation: 200 } as const;
/** Seed offsets of the splits: training SEED + i, validation SEED + 1e6 + i, the unlabeled pool SEED + 2e6 + i. */
export const SHAPE_SPLIT_OFFSET = { training: 0, validation: 1_000_000, unlabeled: 2_000_000 } as const;
const ITEM_T = 0.3;
const EDGE_T = 0.08;
const MIN_CONTRAST = 60;

/** Silhouette groups: name and the Fashion-MNIST classes in it. */
export const SHAPE_GROUPS: Array<{ name: string; fashion: number[] }> = [
  { name: 'top', fashion: [0, 2, 4, 6] }, // T-shirt/top, Pullover, Coat, Shirt
  { name: 'trousers', fashion: [1] },
  { name: 'dress', fashion: [3] },
  { name: 'footwear', fashion: [5, 7, 9] }, // Sandal, Sneaker, Ankle boot
  { name: 'bag', fashion: [8] },
];
/** Visualisation only (the images carry no class colour). */
const SHAPE_PALETTE: [number, number, number][] = [[120, 120, 120], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48]];

interface Items {
  images: Uint8Array;
  /** Item indices per group. */
  byGroup: number[][];
}

/** One Fashion-MNIST split (gzipped IDX) as items grouped by silhouette group. */
export function readShapeItems(src: string, prefix: 'train' | 't10k'): Items {
  const img = gunzipSync(readFileSync(join(src, `${prefix}-images-idx3-ubyte.gz`)));
  const lab = gunzipSync(readFileSync(join(src, `${prefix}-labels-idx1-ubyte.gz`)));
  if (img.readUInt32BE(0) !== 0x803 || lab.readUInt32BE(0) !== 0x801) throw new Error(`${src}/${prefix}-*: bad IDX magic`);
  const n = img.readUInt32BE(4);
  if (img.readUInt32BE(8) !== 28 || img.readUInt32BE(12) !== 28 || lab.readUInt32BE(4) !== n) throw new Error(`${src}/${prefix}-*: unexpected IDX shape`);
  const groupOf = new Int32Array(10).fill(-1);
  SHAPE_GROUPS.forEach((g, gi) => g.fashion.forEach((c) => (groupOf[c] = gi)));
  const byGroup: number[][] = SHAPE_GROUPS.map(() => []);
  for (let i = 0; i < n; i++) byGroup[groupOf[lab[8 + i]]].push(i);
  return { images: new Uint8Array(img.subarray(16, 16 + n * 784)), byGroup };
}

/** Textured background with a random base colour; float RGB HWC. Returns the base colour too. */
function background(rng: Rng): { img: Float32Array; base: number[] } {
  const S = SHAPE_SIZE;
  const img = new Float32Array(S * S * 3);
  const base = [0, 1, 2].map(() => rng.uniform(30, 225));
  const waves = [0, 1].map(() => ({ fx: rng.uniform(-0.5, 0.5), fy: rng.uniform(-0.5, 0.5), ph: rng.uniform(0, 2 * Math.PI), amp: rng.uniform(5, 25) }));
  const noise = rng.uniform(4, 14);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      let t = 0;
      for (const w of waves) t += w.amp * Math.sin(w.fx * x + w.fy * y + w.ph);
      for (let c = 0; c < 3; c++) img[(y * S + x) * 3 + c] = base[c] + t + noise * rng.normal();
    }
  }
  return { img, base };
}

/** A random item colour at least MIN_CONTRAST (Euclidean, RGB) from the background's base colour. */
function itemColour(rng: Rng, base: number[]): number[] {
  for (;;) {
    const c = [0, 1, 2].map(() => rng.uniform(0, 255));
    if (Math.hypot(c[0] - base[0], c[1] - base[1], c[2] - base[2]) >= MIN_CONTRAST) return c;
  }
}

/** One scene: RGB uint8 HWC and the stored annotation (0 ignore, 1 background, 2 + group). */
export function shapeScene(rng: Rng, items: Items): { rgb: Uint8Array; ann: Uint8Array } {
  const S = SHAPE_SIZE;
  const { img, base } = background(rng);
  const ann = new Uint8Array(S * S).fill(1);
  const count = 2 + rng.int(2);
  for (let k = 0; k < count; k++) {
    const group = rng.int(SHAPE_GROUPS.length);
    const members = items.byGroup[group];
    const idx = members[rng.int(members.length)];
    const s = 24 + rng.int(17); // 24..40 px
    const item28 = items.images.subarray(idx * 784, (idx + 1) * 784);
    const item = rng.random() < 0.5 ? resizeNearest(item28, 28, 28, 1, s, s) : resizeBilinear(item28, 28, 28, 1, s, s);
    const x0 = rng.int(S - s + 1);
    const y0 = rng.int(S - s + 1);
    const colour = itemColour(rng, base);
    const contrast = rng.uniform(0.2, 0.8); // share of the item's own texture in its shading
    const invert = rng.random() < 0.5;
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const v = item[y * s + x] / 255;
        if (v <= EDGE_T) continue;
        const p = (y0 + y) * S + x0 + x;
        const alpha = Math.min(1, (v - EDGE_T) / (ITEM_T - EDGE_T));
        const tex = invert ? 1 - v : v;
        const shade = 1 - contrast + contrast * tex;
        for (let c = 0; c < 3; c++) img[p * 3 + c] = (1 - alpha) * img[p * 3 + c] + alpha * colour[c] * shade;
        if (v > ITEM_T) ann[p] = 2 + group;
        else if (ann[p] === 1) ann[p] = 0;
      }
    }
  }
  const rgb = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) rgb[i] = Math.max(0, Math.min(255, Math.round(img[i])));
  return { rgb, ann };
}

const jpeg = (rgb: Uint8Array, file: string) =>
  sharp(rgb, { raw: { width: SHAPE_SIZE, height: SHAPE_SIZE, channels: 3 } }).jpeg({ quality: 92, chromaSubsampling: '4:4:4' }).toFile(file);

/** Write the labelled set (ADE20K layout, reduce_zero_label) to `out`, replacing it. */
export async function prepareShapeScenes(src: string, out: string, log: (line: string) => void = console.log, counts: { training: number; validation: number } = SHAPE_COUNTS): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  const sets = { training: readShapeItems(src, 'train'), validation: readShapeItems(src, 't10k') };
  for (const split of ['training', 'validation'] as const) {
    await mkdir(join(out, 'images', split), { recursive: true });
    await mkdir(join(out, 'annotations', split), { recursive: true });
    const hist = new Float64Array(2 + SHAPE_GROUPS.length);
    for (let i = 0; i < counts[split]; i++) {
      const { rgb, ann } = shapeScene(new Rng(SHAPE_SEED + SHAPE_SPLIT_OFFSET[split] + i), sets[split]);
      for (const v of ann) hist[v]++;
      const name = `shape_${split === 'training' ? 'train' : 'val'}_${String(i).padStart(4, '0')}`;
      await jpeg(rgb, join(out, 'images', split, `${name}.jpg`));
      await writeFile(join(out, 'annotations', split, `${name}.png`), encodePng8(ann, SHAPE_SIZE, SHAPE_SIZE));
    }
    const total = counts[split] * SHAPE_SIZE * SHAPE_SIZE;
    const share = (v: number) => `${((100 * v) / total).toFixed(1)}%`;
    log(`${split}: ${counts[split]} scenes; pixel share ignore ${share(hist[0])}, background ${share(hist[1])}, ` + SHAPE_GROUPS.map((g, i) => `${g.name} ${share(hist[2 + i])}`).join(', '));
  }
  const meta = {
    name: 'scenes-shape',
    classes: ['background', ...SHAPE_GROUPS.map((g) => g.name)],
    palette: SHAPE_PALETTE,
    reduce_zero_label: true,
    img_suffix: '.jpg',
    seg_map_suffix: '.png',
    size: [SHAPE_SIZE, SHAPE_SIZE],
    seed: SHAPE_SEED,
    groups: Object.fromEntries(SHAPE_GROUPS.map((g) => [g.name, g.fashion])),
    source: 'Fashion-MNIST (Zalando Research, MIT licence); training scenes from its train split, validation from its test split',
    note: 'item colour, contrast and inversion are drawn independently of the class; the palette is for visualisation only',
  };
  await writeFile(join(out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  log(`wrote ${out}`);
}

/**
 * The unlabeled pretraining pool: scene i drawn like a training scene (Fashion-MNIST *train* items only) from
 * Rng(SEED + 2e6 + i), which no labelled scene uses; images only, `<outDir>/shape_unlabeled_<i>.jpg`. Existing files
 * are kept (the pool is deterministic). Returns the paths.
 */
export async function generateUnlabeledShapeScenes(src: string, outDir: string, count: number): Promise<string[]> {
  // (ImageNet layout for `mff pretrain --data`: pass <root>/train/pool as outDir)
  if (!Number.isInteger(count) || count < 0) throw new Error(`generateUnlabeledShapeScenes: bad count ${count}`);
  const items = readShapeItems(src, 'train');
  await mkdir(outDir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = join(outDir, `shape_unlabeled_${String(i).padStart(6, '0')}.jpg`);
    files.push(file);
    if (existsSync(file)) continue;
    const tmp = `${file}.tmp.jpg`;
    const { rgb } = shapeScene(new Rng(SHAPE_SEED + SHAPE_SPLIT_OFFSET.unlabeled + i), items);
    await jpeg(rgb, tmp);
    renameSync(tmp, file);
  }
  return files;
}
