import { describe, expect, test, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { scanImageFolder, type ImageFolderDataset } from '../../src/data/imagenet.js';
import { BatchLoader, deriveSeed, type Batch } from '../../src/data/loader.js';
import { buildPretrainTransform, type PretrainPipeline } from '../../src/data/transforms.js';

const here = dirname(fileURLToPath(import.meta.url));
const pipeline: PretrainPipeline = { kind: 'simple-resized-crop', size: 8, padding: 2, flip: true, interp: 'bilinear' };
let dir: string;
let ds: ImageFolderDataset;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mff-loader-'));
  // 23 images in 3 classes; every image different (a gradient keyed by its index)
  let k = 0;
  for (const [cls, n] of [['a', 9], ['b', 7], ['c', 7]] as const) {
    mkdirSync(join(dir, 'train', cls), { recursive: true });
    for (let i = 0; i < n; i++, k++) {
      const w = 10 + (k % 3);
      const h = 9;
      const raw = Buffer.alloc(w * h * 3);
      for (let p = 0; p < w * h; p++) raw.set([(k * 11 + p) % 256, (k * 5 + 3 * p) % 256, (7 * p) % 256], p * 3);
      await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, 'train', cls, `${i}.png`));
    }
  }
  ds = scanImageFolder(dir, 'train');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function loader(over: Partial<ConstructorParameters<typeof BatchLoader>[0]> = {}): BatchLoader {
  return new BatchLoader({
    dataset: ds,
    batchSize: 5,
    transform: buildPretrainTransform(pipeline),
    seed: 42,
    shuffle: true,
    dropLast: true,
    concurrency: 1,
    prefetch: 0,
    ...over,
  });
}

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('BatchLoader', () => {
  test('iterationsPerEpoch with and without dropLast', () => {
    expect(loader().iterationsPerEpoch()).toBe(4); // floor(23 / 5)
    expect(loader({ dropLast: false }).iterationsPerEpoch()).toBe(5); // ceil(23 / 5)
    expect(() => loader({ batchSize: 24 })).toThrow(/23 images < batchSize 24/);
  });

  test('one epoch visits each image at most once, labels match the class folders, NHWC shapes', async () => {
    const batches = await collect(loader({ dropLast: false }).batches(0));
    expect(batches.map((b) => b.iter)).toEqual([0, 1, 2, 3, 4]);
    expect(batches.map((b) => b.labels.length)).toEqual([5, 5, 5, 5, 3]);
    const files = batches.flatMap((b) => b.files);
    expect(new Set(files).size).toBe(23);
    expect([...files].sort()).toEqual(ds.records.map((r) => r.file).sort());
    for (const b of batches) {
      expect(b.images.length).toBe(b.labels.length * 8 * 8 * 3);
      b.files.forEach((f, i) => expect(ds.classes[b.labels[i]]).toBe(f.split(/[\\/]/).at(-2)));
    }
    // shuffled: not the folder order
    expect(files).not.toEqual(ds.records.map((r) => r.file));
  });

  test('output does not depend on concurrency or prefetch', async () => {
    const a = await collect(loader({ concurrency: 1, prefetch: 0 }).batches(3));
    const b = await collect(loader({ concurrency: 4, prefetch: 3 }).batches(3));
    expect(b.map((x) => x.files)).toEqual(a.map((x) => x.files));
    b.forEach((x, i) => {
      expect(Array.from(x.labels)).toEqual(Array.from(a[i].labels));
      expect(x.images).toEqual(a[i].images);
    });
  });

  test('epochs differ in order and augmentation; the same seed repeats them', async () => {
    const e0 = await collect(loader().batches(0));
    const e1 = await collect(loader().batches(1));
    expect(e1.map((b) => b.files)).not.toEqual(e0.map((b) => b.files));
    const again = await collect(loader({ concurrency: 3 }).batches(0));
    expect(again.map((b) => b.images)).toEqual(e0.map((b) => b.images));
    const otherSeed = await collect(loader({ seed: 43 }).batches(0));
    expect(otherSeed.map((b) => b.files)).not.toEqual(e0.map((b) => b.files));
  });

  test('resume with startIter yields exactly the remaining batches', async () => {
    const full = await collect(loader({ concurrency: 2, prefetch: 1 }).batches(2));
    const tail = await collect(loader({ concurrency: 3, prefetch: 2 }).batches(2, 2));
    expect(tail.map((b) => b.iter)).toEqual([2, 3]);
    expect(tail.map((b) => b.files)).toEqual(full.slice(2).map((b) => b.files));
    expect(tail.map((b) => b.images)).toEqual(full.slice(2).map((b) => b.images));
    await expect(loader().batches(0, 9).next()).rejects.toThrow(/startIter 9 is outside 0..4/);
  });

  test('without shuffle the order is the folder order', async () => {
    const batches = await collect(loader({ shuffle: false, dropLast: false }).batches(0));
    expect(batches.flatMap((b) => b.files)).toEqual(ds.records.map((r) => r.file));
  });

  test('a corrupt image rejects with its file name; no hang, no unhandled rejection', async () => {
    const bad = join(dir, 'broken');
    mkdirSync(join(bad, 'train', 'x'), { recursive: true });
    for (let i = 0; i < 6; i++) {
      await sharp(Buffer.alloc(48, 9), { raw: { width: 4, height: 4, channels: 3 } }).png().toFile(join(bad, 'train', 'x', `${i}.png`));
    }
    writeFileSync(join(bad, 'train', 'x', '3.png'), 'garbage');
    const l = loader({ dataset: scanImageFolder(bad, 'train'), batchSize: 2, shuffle: false, concurrency: 4, prefetch: 2 });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const b of l.batches(0)) seen.push(b.iter);
      })(),
    ).rejects.toThrow(/broken[\\/]train[\\/]x[\\/]3\.png: cannot decode image/);
    expect(seen).toEqual([0]);
  });

  test('breaking out early stops loading; the loader stays usable', async () => {
    const l = loader({ concurrency: 2, prefetch: 2 });
    for await (const b of l.batches(0)) {
      if (b.iter === 0) break;
    }
    const loadedAfterBreak = l.stats().images;
    expect(loadedAfterBreak).toBeLessThan(23);
    await new Promise((r) => setTimeout(r, 50));
    expect(l.stats().images).toBeLessThanOrEqual(loadedAfterBreak + 2); // only tasks already running may finish
    expect((await collect(l.batches(0))).length).toBe(4);
  });

  test('stats count images and loading time', async () => {
    const l = loader();
    await collect(l.batches(0));
    const s = l.stats();
    expect(s.images).toBe(20);
    expect(s.seconds).toBeGreaterThan(0);
    expect(s.waitSeconds).toBeGreaterThanOrEqual(0);
  });

  test('deriveSeed separates nearby tuples', () => {
    const seeds = new Set<number>();
    for (let e = 0; e < 20; e++) for (let p = 0; p < 50; p++) seeds.add(deriveSeed(1, 2, e, p));
    expect(seeds.size).toBe(1000);
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
  });

  test('bundled dataset through the MFF pipeline at 28 -> 32', async () => {
    const fm = scanImageFolder(resolve(here, '../../datasets/fashion-mnist-mini'), 'train');
    const l = new BatchLoader({
      dataset: fm,
      batchSize: 16,
      transform: buildPretrainTransform({ kind: 'simple-resized-crop', size: 32, padding: 4, flip: true, interp: 'bilinear' }),
      seed: 0,
      shuffle: true,
      dropLast: true,
      concurrency: 4,
      prefetch: 2,
    });
    expect(l.iterationsPerEpoch()).toBe(62);
    let n = 0;
    for await (const b of l.batches(0)) {
      expect(b.images.length).toBe(16 * 32 * 32 * 3);
      // gray input: R, G, B equal before normalisation -> (x - mean_c) / std_c ties the channels
      const r = b.images[0] * 58.395 + 123.675;
      const g = b.images[1] * 57.12 + 116.28;
      expect(r).toBeCloseTo(g, 3);
      if (++n === 3) break;
    }
  });
});
