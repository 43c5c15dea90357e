/** Classification transforms against hand-computed small cases (mmcv cv2-backend semantics). */
import { describe, expect, test } from 'vitest';
import { Rng } from '../../src/io/rng.js';
import type { RgbImage } from '../../src/data/image.js';
import {
  FINETUNE_ERASING,
  FINETUNE_RANDAUG,
  adjustBrightness,
  adjustColor,
  adjustContrast,
  adjustSharpness,
  autoContrast,
  buildClsTestTransform,
  buildClsTrainTransform,
  equalize,
  invert,
  posterize,
  randAugment,
  randomErasing,
  rotate,
  shear,
  solarize,
  solarizeAdd,
  testResizeFor,
  toGray,
  translate,
} from '../../src/data/cls-transforms.js';

/** An Rng whose uniforms are the given values (int(n) = floor(u·n) uses them too). */
class SeqRng extends Rng {
  private i = 0;
  constructor(private readonly values: number[]) {
    super(0);
  }
  override random(): number {
    if (this.i >= this.values.length) throw new Error('SeqRng exhausted');
    return this.values[this.i++];
  }
}

/** Gray image (R = G = B = v) from rows of values. */
function gray(rows: number[][]): RgbImage {
  const h = rows.length;
  const w = rows[0].length;
  const data = new Uint8Array(w * h * 3);
  rows.flat().forEach((v, i) => data.fill(v, 3 * i, 3 * i + 3));
  return { data, width: w, height: h };
}
const rgb = (px: number[][], w: number, h: number): RgbImage => ({ data: Uint8Array.from(px.flat()), width: w, height: h });
const channel0 = (img: RgbImage) => Array.from({ length: img.width * img.height }, (_, i) => img.data[3 * i]);

const BORDER: [number, number, number] = [124, 116, 104];

describe('photometric ops', () => {
  test('invert / solarize / solarizeAdd / posterize', () => {
    const img = gray([[0, 100, 127, 128, 200, 255]]);
    expect(channel0(invert(img))).toEqual([255, 155, 128, 127, 55, 0]);
    expect(channel0(solarize(img, 128))).toEqual([0, 100, 127, 127, 55, 0]);
    // below 128: + 99.9, truncated, capped at 255
    expect(channel0(solarizeAdd(img, 99.9))).toEqual([99, 199, 226, 128, 200, 255]);
    expect(channel0(posterize(img, 2))).toEqual([0, 64, 64, 128, 192, 192]);
    expect(channel0(posterize(img, 0))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('cv2 BGR2GRAY fixed point: (4899 R + 9617 G + 1868 B + 8192) >> 14', () => {
    const img = rgb([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], 4, 1);
    // 255·4899 = 1249245 -> 76.7 -> 76; 255·9617 -> 150; 255·1868 -> 29; 10·4899+20·9617+30·1868 = 297370 -> 18
    expect(Array.from(toGray(img))).toEqual([76, 150, 29, 18]);
  });

  test('brightness / contrast / color blends: float32, clipped, truncated (color rounds)', () => {
    const img = gray([[100, 200, 101]]);
    expect(channel0(adjustBrightness(img, 1.5))).toEqual([150, 255, 151]);
    expect(channel0(adjustBrightness(img, 0.5))).toEqual([50, 100, 50]);
    // gray mean round(401 / 3 = 133.67) = 134; factor 0.5: (v + 134) / 2 -> 117, 167, 117.5 -> 117
    expect(channel0(adjustContrast(img, 0.5))).toEqual([117, 167, 117]);
    // color: alpha 0 gives the cv2 gray image itself, rounded; 10,20,30 -> gray 18
    const c = adjustColor(rgb([[10, 20, 30]], 1, 1), 0);
    expect(Array.from(c.data)).toEqual([18, 18, 18]);
    // alpha 2: 2·v − gray = 2, 22, 42
    expect(Array.from(adjustColor(rgb([[10, 20, 30]], 1, 1), 2).data)).toEqual([2, 22, 42]);
  });

  test('sharpness: smoothing kernel [[1,1,1],[1,5,1],[1,1,1]]/13 with reflect-101 border', () => {
    // 3x3 with a single 130 in the centre: smoothed centre = 5·130/13 = 50; every other pixel sees the centre
    // once (reflect-101 mirrors the centre row/column onto the edges) except corners... all neighbours -> 130/13 = 10
    const img = gray([[0, 0, 0], [0, 130, 0], [0, 0, 0]]);
    // factor 0 returns the smoothed image: edges see the centre twice via reflection (x=0 reflects to x=1)
    const s = channel0(adjustSharpness(img, 0));
    // corner (0,0): neighbours (-1..1) reflect to indices 1,0,1 in both axes -> the centre appears 4 times: 40
    // edge (0,1): rows reflect 1,0,1 -> the centre (1,1) appears twice: 20
    expect(s).toEqual([40, 20, 40, 20, 50, 20, 40, 20, 40]);
    // factor 2: 2·img − smooth, clipped
    expect(channel0(adjustSharpness(img, 2))).toEqual([0, 0, 0, 0, 210, 0, 0, 0, 0]);
  });

  test('autoContrast stretches [low, high] to [0, 255] per channel (LUT truncated)', () => {
    const img = rgb([[50, 7, 0], [100, 7, 10], [150, 7, 20]], 3, 1);
    const out = autoContrast(img);
    // R: scale 2.55 -> 0, 127.5 -> 127, 255; G constant -> unchanged; B: 0..20 -> 0, 127.5 -> 127, 255
    expect(Array.from(out.data)).toEqual([0, 7, 0, 127, 7, 127, 255, 7, 255]);
  });

  test('equalize: PIL algorithm (step = (N − last nonzero count) // 255)', () => {
    // 300 × 10, 300 × 20, 100 × 30: step = (700 − 100) // 255 = 2, lut[v] = (cum(<v) + 1) // 2
    const vals = [...new Array(300).fill(10), ...new Array(300).fill(20), ...new Array(100).fill(30)];
    const out = channel0(equalize(gray([vals])));
    expect(out[0]).toBe(0);
    expect(out[300]).toBe(150);
    expect(out[600]).toBe(255);
    // too few distinct counts -> unchanged
    expect(channel0(equalize(gray([[0, 0, 1, 2]])))).toEqual([0, 0, 1, 2]);
  });
});

describe('geometric ops (cv2.warpAffine fixed point)', () => {
  const row = gray([[0, 100, 200, 100, 0]]);

  test('integer translation copies pixels exactly (bicubic and nearest), border = pad value', () => {
    for (const interp of ['bicubic', 'nearest'] as const) {
      const t = translate(row, 2, 'horizontal', BORDER, interp);
      expect(channel0(t)).toEqual([124, 124, 0, 100, 200]);
      expect(Array.from(t.data.slice(0, 3))).toEqual(BORDER);
    }
  });

  test('half-pixel translation uses the cubic weights (−0.09375, 0.59375, 0.59375, −0.09375) in 1/32768', () => {
    // dst[x] = src[x + 0.5]; dst[1] = (19456·100 + 19456·200 − 3072·100 + 2^14) >> 15 = 169
    const t = channel0(translate(row, -0.5, 'horizontal', [0, 0, 0], 'bicubic'));
    expect(t[1]).toBe(169);
    expect(t[2]).toBe(169);
    // dst[0] = −3072·0 + 19456·0 + 19456·100 − 3072·200 -> 40.6 -> 41
    expect(t[0]).toBe(41);
  });

  test('rotate +90 is clockwise about the centre; shear 0 is the identity', () => {
    const img = gray([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    for (const interp of ['bicubic', 'nearest'] as const) {
      expect(channel0(rotate(img, 90, BORDER, interp))).toEqual([7, 4, 1, 8, 5, 2, 9, 6, 3]);
      expect(channel0(rotate(img, -90, BORDER, interp))).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
    }
    expect(channel0(shear(img, 0, 'horizontal', BORDER, 'bicubic'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // vertical shear by 1 (nearest): dst(x, y) = src(x, y − x)
    expect(channel0(shear(img, 1, 'vertical', [0, 0, 0], 'nearest'))).toEqual([1, 0, 0, 4, 2, 0, 7, 5, 3]);
  });
});

describe('RandAugment (timm_increasing)', () => {
  test('draw order: op choices, then per op disable / level / sign; magnitude = level/10 · range', () => {
    const cfg = { ...FINETUNE_RANDAUG, magnitudeStd: 0 };
    const img = gray([[0, 100, 200]]);
    // ops: floor(0.15·15) = 2 Invert, floor(0.41·15) = 6 SolarizeAdd (magnitude 9/10·110 = 99, never negated)
    const out = randAugment(img, cfg, new SeqRng([0.15, 0.41, 0.1, 0.2]));
    expect(channel0(out)).toEqual([255, 155, 154]);
    // disabled ops (u > prob) leave the image alone
    expect(channel0(randAugment(img, cfg, new SeqRng([0.15, 0.41, 0.9, 0.9])))).toEqual([0, 100, 200]);
    // Brightness (index 9), sign draw 0.3 < 0.5 -> magnitude −0.81 -> factor 0.19
    const b = randAugment(img, { ...cfg, numPolicies: 1 }, new SeqRng([0.61, 0.1, 0.3]));
    expect(channel0(b)).toEqual([0, 19, 38]);
  });

  test('magnitude noise: level ~ N(9, 0.5) clipped to [0, 10]', () => {
    // Posterize (index 4, range 4 -> 0): normal draw u1 = e^-2 (radius 2), v = 0 -> z = 2, level clip(10) = 10 -> 0 bits
    const p = randAugment(gray([[200]]), { ...FINETUNE_RANDAUG, numPolicies: 1 }, new SeqRng([0.27, 0.1, Math.exp(-2), 0]));
    expect(channel0(p)).toEqual([0]);
  });
});

describe('RandomErasing (mmpretrain, uint8)', () => {
  test('box from log-uniform aspect, uniform area and randint offsets; const fill', () => {
    const img = gray(Array.from({ length: 10 }, () => new Array(10).fill(7)));
    const cfg = { ...FINETUNE_ERASING, mode: 'const' as const, minArea: 0.16, maxArea: 0.16, aspect: [1, 1] as [number, number], fillColor: [1, 2, 3] as [number, number, number] };
    // disable 0.1 (apply), aspect u, area u -> 4x4; top = floor(0.5·6) = 3, left = floor(0·6) = 0
    const out = randomErasing(img, cfg, new SeqRng([0.1, 0.3, 0.3, 0.5, 0]));
    for (let y = 0; y < 10; y++)
      for (let x = 0; x < 10; x++) {
        const inBox = y >= 3 && y < 7 && x < 4;
        expect(Array.from(out.data.slice((y * 10 + x) * 3, (y * 10 + x) * 3 + 3))).toEqual(inBox ? [1, 2, 3] : [7, 7, 7]);
      }
    expect(randomErasing(img, cfg, new SeqRng([0.3]))).toBe(img); // 0.3 > 0.25: not applied
  });

  test("'rand' fill: per-pixel N(mean, std) truncated and clipped to uint8", () => {
    const img = gray(Array.from({ length: 32 }, () => new Array(32).fill(0)));
    const out = randomErasing(img, { ...FINETUNE_ERASING, prob: 1 }, new Rng(4));
    const changed = Array.from(out.data).filter((v) => v !== 0);
    expect(changed.length).toBeGreaterThan(0.02 * 32 * 32 * 3 * 0.9);
    const mean = changed.reduce((a, b) => a + b, 0) / changed.length;
    expect(Math.abs(mean - 115)).toBeLessThan(15);
  });
});

describe('pipelines', () => {
  test('test transform: ResizeEdge(floor(size·256/224)) + CenterCrop(size)', () => {
    expect(testResizeFor(224)).toBe(256);
    expect(testResizeFor(112)).toBe(128);
    const img = gray(Array.from({ length: 100 }, () => new Array(150).fill(128)));
    const out = buildClsTestTransform({ size: 56 })(img);
    expect(out.length).toBe(56 * 56 * 3);
    expect(out[0]).toBeCloseTo((128 - 123.675) / 58.395, 5);
  });

  test('train transform is deterministic given the rng and has the crop size', () => {
    const r = new Rng(0);
    const data = Uint8Array.from({ length: 60 * 40 * 3 }, () => r.int(256));
    const img = { data, width: 60, height: 40 };
    for (const kind of ['finetune', 'linear'] as const) {
      const t = buildClsTrainTransform({ kind, size: 32 });
      const a = t(img, new Rng(9));
      const b = t(img, new Rng(9));
      expect(a.length).toBe(32 * 32 * 3);
      expect(Array.from(a)).toEqual(Array.from(b));
    }
  });
});
