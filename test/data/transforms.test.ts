import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RgbImage } from '../../src/data/image.js';
import { Rng } from '../../src/io/rng.js';
import {
  buildEvalTransform,
  buildPretrainTransform,
  centerCrop,
  hflip,
  normalize,
  padReflect,
  randomCrop,
  randomResizedCropBox,
  resizeEdge,
  resizeShortSide,
  resizeTo,
  roundHalfEven,
  type Interp,
} from '../../src/data/transforms.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Gray image from a row-major list of values (R = G = B). */
function gray(w: number, h: number, values: number[]): RgbImage {
  const data = new Uint8Array(w * h * 3);
  values.forEach((v, i) => data.fill(v, i * 3, i * 3 + 3));
  return { data, width: w, height: h };
}
const channel0 = (img: RgbImage) => Array.from(img.data.filter((_, i) => i % 3 === 0));

/** Image whose pixel (x, y) is (x, y, 7): positions can be read back from the pixels. */
function coords(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x, y, 7], (y * w + x) * 3);
  return { data, width: w, height: h };
}
const at = (img: RgbImage, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

/** An Rng whose int()/uniform()/random() return scripted values, to pin crop positions by hand. */
function scripted(ints: number[], uniforms: number[] = [], randoms: number[] = []): Rng {
  return {
    int: (n: number) => {
      const v = ints.shift()!;
      if (!(v >= 0 && v < n)) throw new Error(`scripted int ${v} not in [0, ${n})`);
      return v;
    },
    uniform: () => uniforms.shift()!,
    random: () => randoms.shift()!,
  } as unknown as Rng;
}

describe('Pillow-exact resize', () => {
  test('bilinear 2 -> 4 upscale, hand-computed: [0, 25, 75, 100]', () => {
    expect(channel0(resizeTo(gray(2, 1, [0, 100]), 4, 1, 'bilinear'))).toEqual([0, 25, 75, 100]);
  });

  test('bilinear 8 -> 4 antialiased downscale, hand-computed', () => {
    // interior taps (1,3,3,1)/8 around each centre; edge taps renormalised (3,3,1)/7 and (1,3,3)/7
    const row = [0, 16, 32, 48, 64, 80, 96, 112];
    // out0 = (0*3 + 16*3 + 32)/7 = 11.43; out1 = (16 + 96 + 144 + 64)/8 = 40; out2 = 72; out3 = (80 + 288 + 336)/7 = 100.57
    expect(channel0(resizeTo(gray(8, 1, row), 4, 1, 'bilinear'))).toEqual([11, 40, 72, 101]);
  });

  test('matches Pillow Image.resize byte for byte (fixture made by test/data/make-pil-fixture.py)', () => {
    const fx = JSON.parse(readFileSync(join(here, 'pil-resize.json'), 'utf8'));
    expect(fx.cases.length).toBeGreaterThan(0);
    for (const c of fx.cases) {
      const src = new Uint8Array(Buffer.from(c.src, 'base64'));
      const want = new Uint8Array(Buffer.from(c.expected, 'base64'));
      const got = resizeTo({ data: src, width: c.in[0], height: c.in[1] }, c.out[0], c.out[1], c.interp as Interp);
      expect([got.width, got.height]).toEqual(c.out);
      const diff = got.data.findIndex((v, i) => v !== want[i]);
      expect(diff, `${c.interp} ${c.in} -> ${c.out}: first differing byte`).toBe(-1);
    }
  });

  test('a constant image stays constant (weights sum to one)', () => {
    for (const interp of ['bilinear', 'bicubic'] as Interp[]) {
      const out = resizeTo(gray(13, 7, new Array(91).fill(173)), 31, 5, interp);
      expect(out.data.every((v) => v === 173)).toBe(true);
    }
  });

  test('resizeShortSide: torchvision Resize(int) output sizes', () => {
    const a = resizeShortSide(gray(500, 375, new Array(500 * 375).fill(9)), 224, 'bilinear');
    expect([a.width, a.height]).toEqual([298, 224]); // int(224 * 500 / 375) = 298
    const b = resizeShortSide(gray(30, 41, new Array(30 * 41).fill(9)), 20, 'bicubic');
    expect([b.width, b.height]).toEqual([20, 27]); // int(20 * 41 / 30) = 27.33 -> 27
    const same = gray(3, 5, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(channel0(resizeShortSide(same, 3, 'bilinear'))).toEqual(channel0(same));
  });

  test('resizeEdge short: mmpretrain ResizeEdge sizes', () => {
    const tall = resizeEdge(gray(40, 70, new Array(2800).fill(1)), 16, 'short', 'bicubic');
    expect([tall.width, tall.height]).toEqual([16, 28]);
    const wide = resizeEdge(gray(70, 40, new Array(2800).fill(1)), 16, 'short', 'bilinear');
    expect([wide.width, wide.height]).toEqual([28, 16]);
  });
});

describe('crops, padding, flip', () => {
  test('roundHalfEven is Python round()', () => {
    expect([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 4, -0, -2, 2, 3]);
  });

  test('reflect padding does not repeat the edge: [1,2,3,4] pad 2 -> [3,2,1,2,3,4,3,2]', () => {
    const p = padReflect(gray(4, 1, [1, 2, 3, 4]), 2);
    expect([p.width, p.height]).toEqual([8, 5]);
    for (let y = 0; y < 5; y++) expect(channel0(p).slice(y * 8, y * 8 + 8)).toEqual([3, 2, 1, 2, 3, 4, 3, 2]);
    const col = padReflect(gray(1, 3, [5, 6, 7]), 1);
    expect(channel0(col).filter((_, i) => i % 3 === 1)).toEqual([6, 5, 6, 7, 6]);
  });

  test('randomCrop takes the padded image at (top, left) drawn in that order', () => {
    const img = coords(6, 5);
    // padded 8x7; crop 4 -> top in [0, 3], left in [0, 4]; scripted top = 3, left = 0
    const out = randomCrop(img, 4, 1, scripted([3, 0]));
    expect([out.width, out.height]).toEqual([4, 4]);
    // output (0,0) = padded (0,3) = original (reflect(-1) = 1, 2)
    expect(at(out, 0, 0)).toEqual([1, 2, 7]);
    expect(at(out, 1, 0)).toEqual([0, 2, 7]);
    expect(at(out, 2, 1)).toEqual([1, 3, 7]); // padded (2, 4) = original (1, 3)
    // output (3,3) = padded (3, 6): the bottom pad row, original y = reflect(5) = 3
    expect(at(out, 3, 3)).toEqual([2, 3, 7]);
    // right pad column: padded (7, 6) = original (reflect(6) = 4, 3)
    expect(at(randomCrop(img, 4, 1, scripted([3, 4])), 3, 3)).toEqual([4, 3, 7]);
    expect(() => randomCrop(img, 9, 1, new Rng(0))).toThrow(/larger than the padded image 8x7/);
  });

  test('randomCrop positions are uniform over all offsets', () => {
    const rng = new Rng(3);
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const out = randomCrop(coords(4, 4), 4, 1, rng);
      seen.add(at(out, 1, 1).join(','));
    }
    // padding 1, crop 4 of 6: 3 x 3 offsets; pixel (1,1) of the crop is original (off-1+1) -> x, y in {0,1,2}
    expect(seen.size).toBe(9);
  });

  test('hflip mirrors columns', () => {
    const f = hflip(coords(3, 2));
    expect(at(f, 0, 0)).toEqual([2, 0, 7]);
    expect(at(f, 2, 1)).toEqual([0, 1, 7]);
  });

  test('centerCrop offsets round half to even (mmcv CenterCrop)', () => {
    const c = centerCrop(coords(7, 6), 4);
    // x1 = round(1.5) = 2, y1 = round(1.0) = 1
    expect([c.width, c.height]).toEqual([4, 4]);
    expect(at(c, 0, 0)).toEqual([2, 1, 7]);
    const c2 = centerCrop(coords(9, 6), 4); // x1 = round(2.5) = 2
    expect(at(c2, 0, 0)).toEqual([2, 1, 7]);
  });

  test('randomResizedCrop box: accepted attempt, hand-computed', () => {
    // area 8000, scale draw 0.5 -> 4000, log-ratio draw 0 -> aspect 1 -> w = h = round(63.25) = 63; offsets y = 5, x = 7
    const box = randomResizedCropBox(100, 80, { scale: [0.2, 1] }, scripted([5, 7], [0.5, 0]));
    expect(box).toEqual({ x: 7, y: 5, w: 63, h: 63 });
  });

  test('randomResizedCrop box: 10 failed attempts fall back to a centre crop with the ratio clamped', () => {
    // 100x20 with the whole area: h = sqrt(2000 / aspect) >= 38.7 > 20 always fails.
    // fallback: ratio 5 > 4/3 -> h = 20, w = round(20 * 4/3) = 27, x = (100 - 27) // 2 = 36
    const box = randomResizedCropBox(100, 20, { scale: [1, 1] }, new Rng(1));
    expect(box).toEqual({ x: 36, y: 0, w: 27, h: 20 });
    // tall image: ratio 0.2 < 3/4 -> w = 20, h = round(20 / 0.75) = 27, y = (100 - 27) // 2 = 36
    expect(randomResizedCropBox(20, 100, { scale: [1, 1] }, new Rng(1))).toEqual({ x: 0, y: 36, w: 20, h: 27 });
  });

  test("randomResizedCrop box, style 'mae': one draw, clamped to the image", () => {
    // 100x20, area 2000, scale 1, aspect 1 -> w = h = round(44.72) = 45 -> h clamped to 20; y in [0, 0], x scripted 30
    const box = randomResizedCropBox(100, 20, { scale: [1, 1], style: 'mae' }, scripted([0, 30], [1, 0]));
    expect(box).toEqual({ x: 30, y: 0, w: 45, h: 20 });
  });

  test('randomResizedCrop box statistics: area fraction within scale range, aspect within ratio range', () => {
    const rng = new Rng(11);
    for (let i = 0; i < 300; i++) {
      const b = randomResizedCropBox(400, 300, { scale: [0.2, 1] }, rng);
      expect(b.x + b.w).toBeLessThanOrEqual(400);
      expect(b.y + b.h).toBeLessThanOrEqual(300);
      const frac = (b.w * b.h) / 120000;
      expect(frac).toBeGreaterThan(0.19);
      expect(frac).toBeLessThan(1.01);
      expect(b.w / b.h).toBeGreaterThan(0.74);
      expect(b.w / b.h).toBeLessThan(1.35);
    }
  });
});

describe('normalize and pipelines', () => {
  test('eval transform: ResizeEdge(short) + CenterCrop sizes', async () => {
    const t = buildEvalTransform({ resize: 16, crop: 14, interp: 'bicubic' });
    const out = await t(gray(40, 30, new Array(1200).fill(128)), new Rng(0)); // -> 21x16 -> 14x14
    expect(out.length).toBe(14 * 14 * 3);
    expect(out[0]).toBeCloseTo((128 - 123.675) / 58.395, 5);
  });

  test('normalize: (x - mean) / std per RGB channel, HWC', () => {
    const img: RgbImage = { data: Uint8Array.from([0, 255, 128, 123, 116, 104]), width: 2, height: 1 };
    const out = normalize(img);
    const want = [-123.675 / 58.395, (255 - 116.28) / 57.12, (128 - 103.53) / 57.375, -0.675 / 58.395, -0.28 / 57.12, 0.47 / 57.375];
    want.forEach((w, i) => expect(out[i]).toBeCloseTo(w, 5));
  });

  test('simple-resized-crop: size x size x 3, a constant image maps to its normalised constant', async () => {
    const t = buildPretrainTransform({ kind: 'simple-resized-crop', size: 16, padding: 4, flip: true, interp: 'bilinear' }, [100, 100, 100], [50, 50, 50]);
    const out = await t(gray(11, 9, new Array(99).fill(200)), new Rng(0));
    expect(out.length).toBe(16 * 16 * 3);
    expect(out.every((v) => v === 2)).toBe(true);
  });

  test('random-resized-crop output size and flip probability near 0.5', async () => {
    const t = buildPretrainTransform({ kind: 'random-resized-crop', size: 8, scale: [1, 1], flip: true, interp: 'bicubic' }, [0, 0, 0], [1, 1, 1]);
    // 8x8 left-dark/right-bright image; whole-image crop (scale 1, ratio drawn until it fits) keeps the halves
    const vals: number[] = [];
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) vals.push(x < 4 ? 0 : 250);
    let flipped = 0;
    const rng = new Rng(5);
    for (let i = 0; i < 200; i++) {
      const out = await t(gray(8, 8, vals), rng);
      expect(out.length).toBe(8 * 8 * 3);
      if (out[0] > out[7 * 3]) flipped++;
    }
    expect(flipped).toBeGreaterThan(70);
    expect(flipped).toBeLessThan(130);
  });
});
