/**
 * datasets/scenes-shape: deterministic, and colour carries no class information (the point of the set), measured
 * against the tinted scenes-mini where it does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import sharp from 'sharp';
import { Rng } from '../../src/io/rng.js';
import { encodePng8, decodePngSamples } from '../../src/data/png.js';
import { readShapeItems, shapeScene, SHAPE_SEED, SHAPE_SPLIT_OFFSET } from '../../datasets/scenes/shape.js';

const SHAPE = resolve(__dirname, '../../datasets/scenes-shape');
const MINI = resolve(__dirname, '../../datasets/scenes-mini');
const FASHION = '/usr/share/datasets/fashion-mnist';

/**
 * Nearest-class-mean classifier on the mean RGB of each labelled item region (class = stored label ≥ 2), fitted on the
 * first half of the scenes, scored on the second: accuracy and the chance level (largest class share).
 */
async function colourProbe(root: string, n: number): Promise<{ acc: number; chance: number }> {
  const files = readdirSync(join(root, 'images', 'training')).sort().slice(0, n);
  const samples: { cls: number; rgb: number[] }[] = [];
  for (const f of files) {
    const { data } = await sharp(join(root, 'images', 'training', f)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const ann = decodePngSamples(readFileSync(join(root, 'annotations', 'training', f.replace('.jpg', '.png')))).samples;
    const sums = new Map<number, number[]>();
    ann.forEach((v, p) => {
      if (v < 2) return;
      const s = sums.get(v) ?? [0, 0, 0, 0];
      for (let c = 0; c < 3; c++) s[c] += data[p * 3 + c];
      s[3]++;
      sums.set(v, s);
    });
    for (const [cls, s] of sums) if (s[3] >= 20) samples.push({ cls, rgb: [s[0] / s[3], s[1] / s[3], s[2] / s[3]] });
  }
  const half = Math.floor(samples.length / 2);
  const means = new Map<number, number[]>();
  for (const s of samples.slice(0, half)) {
    const m = means.get(s.cls) ?? [0, 0, 0, 0];
    for (let c = 0; c < 3; c++) m[c] += s.rgb[c];
    m[3]++;
    means.set(s.cls, m);
  }
  const test = samples.slice(half);
  let right = 0;
  for (const s of test) {
    let best = -1;
    let bestD = Infinity;
    for (const [cls, m] of means) {
      const d = Math.hypot(s.rgb[0] - m[0] / m[3], s.rgb[1] - m[1] / m[3], s.rgb[2] - m[2] / m[3]);
      if (d < bestD) [best, bestD] = [cls, d];
    }
    if (best === s.cls) right++;
  }
  const counts = new Map<number, number>();
  for (const s of test) counts.set(s.cls, (counts.get(s.cls) ?? 0) + 1);
  return { acc: right / test.length, chance: Math.max(...counts.values()) / test.length };
}

describe('scenes-shape', () => {
  test('meta: background + the silhouette groups, reduce_zero_label, a palette entry per class', () => {
    const meta = JSON.parse(readFileSync(join(SHAPE, 'meta.json'), 'utf8'));
    expect(meta.reduce_zero_label).toBe(true);
    expect(meta.classes[0]).toBe('background');
    expect(meta.palette.length).toBe(meta.classes.length);
    expect(Object.keys(meta.groups)).toEqual(meta.classes.slice(1));
    const nTrain = readdirSync(join(SHAPE, 'images', 'training')).length;
    expect(readdirSync(join(SHAPE, 'annotations', 'training')).length).toBe(nTrain);
  });

  test('colour does not give the class away: a colour-only probe is near chance here, far above it on scenes-mini', async () => {
    const shape = await colourProbe(SHAPE, 200);
    const mini = await colourProbe(MINI, 200);
    expect(mini.acc).toBeGreaterThan(0.8); // tinted by class: colour alone classifies
    expect(shape.acc).toBeLessThan(shape.chance + 0.1);
  });

  test.skipIf(!existsSync(join(FASHION, 'train-images-idx3-ubyte.gz')))('deterministic: regenerated scenes have the bundled annotations', () => {
    const items = readShapeItems(FASHION, 'train');
    for (const i of [0, 7, 123]) {
      const { ann } = shapeScene(new Rng(SHAPE_SEED + SHAPE_SPLIT_OFFSET.training + i), items);
      const name = `shape_train_${String(i).padStart(4, '0')}.png`;
      const meta = JSON.parse(readFileSync(join(SHAPE, 'meta.json'), 'utf8'));
      const [w, h] = meta.size;
      expect(encodePng8(ann, w, h).equals(readFileSync(join(SHAPE, 'annotations', 'training', name))), name).toBe(true);
    }
  });
});
