/** The --show-dir comparison picture: panels in the dataset palette, upscaled, with a legend; a decodable, non-blank PNG. */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import sharp from 'sharp';
import { classesPresent, compareLayout, writeComparisonPng } from '../../src/data/seg/compare.js';
import { tempDir } from '../engine/temp-dirs.js';
import { pngStats } from '../helpers/png.js';

const W = 16;
const H = 12;
const meta = { classes: ['sky', 'road', 'car '], palette: [[6, 230, 230], [140, 140, 140], [0, 102, 200]] };

function labels(f: (x: number, y: number) => number) {
  const data = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = f(x, y);
  return { data, width: W, height: H };
}

describe('segmentation comparison (--show-dir)', () => {
  test('image | ground truth | prediction, palette colours, ignore black, legend of the classes present', async () => {
    const image = { data: new Uint8Array(W * H * 3).map((_, i) => (i * 7) % 256), width: W, height: H };
    const gt = labels((x, y) => (y < 4 ? 0 : y < 6 ? 255 : 1)); // sky, an ignored band, road
    const pred = labels((x, y) => (y < 4 ? 0 : x < 4 ? 2 : 1)); // sky, car, road
    expect(classesPresent([gt, pred], 3)).toEqual([1, 0, 2]); // road has the most pixels, then sky, then car
    const file = join(tempDir('mff-compare-'), 'a', 'cmp.png');
    await writeComparisonPng(file, image, gt, pred, meta);

    const L = compareLayout(W, H, ['road', 'sky', 'car']);
    expect(L.scale).toBe(16); // 256 / 16
    const st = await pngStats(file);
    expect([st.format, st.width, st.height]).toEqual(['png', L.width, L.height]);
    expect(st.stdev).toBeGreaterThan(10);
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    const panel = (j: number, x: number, y: number) => px(8 + j * (W * L.scale + 8) + x * L.scale + 2, 24 + y * L.scale + 2);
    expect(panel(1, 5, 1)).toEqual(meta.palette[0]); // ground truth: sky
    expect(panel(1, 5, 4)).toEqual([0, 0, 0]); // ignored
    expect(panel(1, 5, 8)).toEqual(meta.palette[1]); // road
    expect(panel(2, 1, 8)).toEqual(meta.palette[2]); // prediction: car
    // legend: the first swatch is the most frequent class
    expect(px(8 + 6, 24 + H * L.scale + 8 + 9)).toEqual(meta.palette[1]);
  });

  test('a label map of another size is refused, naming the file', async () => {
    const image = { data: new Uint8Array(W * H * 3), width: W, height: H };
    const small = { data: new Uint8Array(4), width: 2, height: 2 };
    await expect(writeComparisonPng('/tmp/x.png', image, small, small, meta)).rejects.toThrow(/x\.png: ground truth is 2x2 but the image is 16x12/);
  });
});
