/** Resize / crop / flip / HSV / photometric / normalise / pad, against hand-computed values. */
import { describe, expect, test } from 'vitest';
import { Rng } from '../../src/io/rng.js';
import { hsvToRgb, rgbToHsv } from '../../src/data/seg/hsv.js';
import { rescaleSize, resizeBilinear, resizeNearest } from '../../src/data/seg/resize.js';
import { flipHorizontal, normalize, padTo, photoMetricDistortion, randomCrop, segTestTransform, segTrainTransform } from '../../src/data/seg/seg-transforms.js';

describe('resize (cv2 semantics)', () => {
  test('bilinear 2 -> 4 px: half-pixel centres, clamped borders', () => {
    // dst x = 0..3 -> src 0 (clamped), 0.25, 0.75, 1 (clamped): 0, 25, 75, 100
    expect(Array.from(resizeBilinear(Uint8Array.from([0, 100]), 2, 1, 1, 4, 1))).toEqual([0, 25, 75, 100]);
  });
  test('bilinear 4 -> 2 px averages neighbours (no antialias); 2x2 block of a 4x4 ramp', () => {
    expect(Array.from(resizeBilinear(Uint8Array.from([10, 20, 30, 40]), 4, 1, 1, 2, 1))).toEqual([15, 35]);
    const ramp = Uint8Array.from({ length: 16 }, (_, i) => i * 10);
    // centre of block (0..1, 0..1) = mean(0, 10, 40, 50) = 25
    expect(resizeBilinear(ramp, 4, 4, 1, 2, 2)[0]).toBe(25);
  });
  test('nearest uses floor(dst * src / dst), not half-pixel centres', () => {
    expect(Array.from(resizeNearest(Uint8Array.from([1, 2, 3]), 3, 1, 1, 5, 1))).toEqual([1, 1, 2, 2, 3]);
    expect(Array.from(resizeNearest(Uint8Array.from([1, 2, 3, 4, 5]), 5, 1, 1, 2, 1))).toEqual([1, 3]);
  });
  test('rescaleSize = mmcv rescale_size for (2048, 512)', () => {
    expect(rescaleSize(683, 512, [2048, 512])).toMatchObject({ width: 683, height: 512 });
    expect(rescaleSize(500, 375, [2048, 512])).toMatchObject({ width: 683, height: 512 }); // 500 * 512/375 = 682.67
    expect(rescaleSize(3000, 500, [2048, 512])).toMatchObject({ width: 2048, height: 341 }); // long side bound
  });
});

describe('HSV (cv2 8-bit, hue 0..179)', () => {
  test('primaries and grey', () => {
    expect(Array.from(rgbToHsv(Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128])))).toEqual([0, 255, 255, 60, 255, 255, 120, 255, 255, 0, 0, 128]);
    expect(Array.from(hsvToRgb(Uint8Array.from([0, 255, 255, 60, 255, 255, 120, 255, 255, 0, 0, 128])))).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128]);
  });
  test('round trip stays within 3 grey levels', () => {
    const rgb = Uint8Array.from({ length: 3000 }, (_, i) => (i * 97 + (i >> 3) * 13) & 255);
    const back = hsvToRgb(rgbToHsv(rgb));
    let max = 0;
    for (let i = 0; i < rgb.length; i++) max = Math.max(max, Math.abs(back[i] - rgb[i]));
    expect(max).toBeLessThanOrEqual(3);
  });
});

describe('RandomCrop / flip / normalise / pad', () => {
  test('cat_max_ratio rejects crops dominated by one class', () => {
    // 8x1 label: left half all 0, right half mixed; 4-wide crops only pass when they include the mixed part
    const label = { data: Uint8Array.from([0, 0, 0, 0, 0, 1, 2, 3]), width: 8, height: 1 };
    const image = { data: new Uint8Array(24), width: 8, height: 1 };
    for (let s = 0; s < 20; s++) {
      const { label: l } = randomCrop(image, label, [1, 4], 0.75, 255, new Rng(s));
      const counts = new Map<number, number>();
      for (const v of l.data) counts.set(v, (counts.get(v) ?? 0) + 1);
      expect(Math.max(...counts.values()) / 4).toBeLessThan(0.75);
    }
  });
  test('crop of an image smaller than the crop size keeps it whole', () => {
    const label = { data: Uint8Array.from([1, 2]), width: 2, height: 1 };
    const { image, label: l } = randomCrop({ data: new Uint8Array(6), width: 2, height: 1 }, label, [4, 4], 0.75, 255, new Rng(1));
    expect([image.width, image.height, Array.from(l.data)]).toEqual([2, 1, [1, 2]]);
  });
  test('flipHorizontal mirrors image pixels and labels together', () => {
    const image = { data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), width: 3, height: 1 };
    const label = { data: Uint8Array.from([0, 1, 2]), width: 3, height: 1 };
    flipHorizontal(image, label);
    expect(Array.from(image.data)).toEqual([7, 8, 9, 4, 5, 6, 1, 2, 3]);
    expect(Array.from(label.data)).toEqual([2, 1, 0]);
  });
  test('normalise in float32 and pad: image 0, label 255', () => {
    const n = normalize({ data: Uint8Array.from([0, 255, 128]), width: 1, height: 1 });
    expect(n[0]).toBe(Math.fround(Math.fround(-123.675) / Math.fround(58.395)));
    expect(n[1]).toBe(Math.fround(Math.fround(255 - Math.fround(116.28)) / Math.fround(57.12)));
    const p = padTo(n, Uint8Array.of(4), 1, 1, 2, 2);
    expect(Array.from(p.label)).toEqual([4, 255, 255, 255]);
    expect(Array.from(p.image.subarray(3))).toEqual(new Array(9).fill(0));
  });
});

describe('pipelines', () => {
  const w = 40;
  const h = 30;
  const image = { data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 31) & 255), width: w, height: h };
  const label = { data: Uint8Array.from({ length: w * h }, (_, i) => ((i % w) >> 3) % 4), width: w, height: h };
  const cfg = { scale: [80, 20] as [number, number], cropSize: [16, 16] as [number, number] };

  test('train output has the crop size, labels stay label values, same Rng -> same sample, inputs untouched', () => {
    const before = image.data.slice();
    const a = segTrainTransform(image, label, cfg, new Rng(7));
    const b = segTrainTransform(image, label, cfg, new Rng(7));
    const c = segTrainTransform(image, label, cfg, new Rng(8));
    expect(a.image.length).toBe(16 * 16 * 3);
    expect(a.label.length).toBe(16 * 16);
    for (const v of a.label) expect([0, 1, 2, 3, 255]).toContain(v);
    expect(a.image).toEqual(b.image);
    expect(a.label).toEqual(b.label);
    expect(c.image).not.toEqual(a.image);
    expect(image.data).toEqual(before);
  });

  test('photometric distortion changes pixels but not the image size; with every step skipped it is identity', () => {
    const img = { data: image.data.slice(), width: w, height: h };
    photoMetricDistortion(img, new Rng(3));
    expect(img.data.length).toBe(image.data.length);
    // find a seed whose draws skip brightness, contrast, saturation and hue: the image must be unchanged
    for (let s = 0; s < 200; s++) {
      const r = new Rng(s);
      const draws = [r.int(2), r.int(2), r.int(2), r.int(2), r.int(2)]; // brightness, mode, (contrast|sat), ...
      if (draws[0] === 0 && ((draws[1] === 1 && draws[2] === 0 && draws[3] === 0 && draws[4] === 0) || (draws[1] === 0 && draws[2] === 0 && draws[3] === 0 && draws[4] === 0))) {
        const copy = { data: image.data.slice(), width: w, height: h };
        photoMetricDistortion(copy, new Rng(s));
        expect(copy.data).toEqual(image.data);
        return;
      }
    }
    throw new Error('no skipping seed found');
  });

  test('test pipeline resizes keep-ratio to the scale', () => {
    const t = segTestTransform(image, [2048, 512]);
    expect([t.width, t.height]).toEqual([683, 512]);
    expect(t.image.length).toBe(683 * 512 * 3);
  });
});
