/**
 * Classification transfer pipelines (mmpretrain configs/mff/benchmarks), on 8-bit HWC RGB images:
 *   fine-tune train  RandomResizedCrop(bicubic, scale 0.08-1) -> RandomFlip(0.5) -> RandAugment('timm_increasing',
 *                    2 ops, magnitude 9, std 0.5, total 10, pad_val, bicubic) -> RandomErasing(0.25, 'rand') -> normalise
 *   linear train     MAERandomResizedCrop(bicubic) -> HFlip(0.5) -> normalise
 *   test             ResizeEdge(floor(size * 256/224), short) -> CenterCrop(size) -> normalise
 * The RandAugment ops follow mmpretrain's transforms, which call mmcv with the cv2 backend: cv2-exact fixed-point
 * warpAffine (bicubic / nearest, constant border), cv2 BGR2GRAY weights, float32 blending truncated to uint8.
 * mmpretrain works on BGR arrays; our images are RGB, so BGR-ordered constants (pad_val, fill colours) are reversed.
 * Random draws come from the given Rng in the reference's order (not the numpy stream).
 */
import type { RgbImage } from './image.js';
import type { Rng } from '../io/rng.js';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  centerCrop,
  hflip,
  normalize,
  randomResizedCrop,
  resizeEdge,
  roundHalfEven,
  type Interp,
} from './transforms.js';

const clampU8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
/** numpy float -> uint8 after np.clip(0, 255): truncation. */
const truncU8 = (v: number) => Math.trunc(clampU8(v));
/** cv2 saturate_cast<uchar>(float): round half to even, then saturate. */
const roundU8 = (v: number) => clampU8(roundHalfEven(v));
const f32 = Math.fround;

function mapImage(img: RgbImage, f: (v: number, c: number) => number): RgbImage {
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f(img.data[i], i % 3);
  return { data, width: img.width, height: img.height };
}

// ---------------------------------------------------------------- photometric (mmcv.image.photometric, cv2 backend)

/** cv2 BGR2GRAY on uint8: (4899 R + 9617 G + 1868 B + 2^13) >> 14. */
export function toGray(img: RgbImage): Uint8Array {
  const n = img.width * img.height;
  const g = new Uint8Array(n);
  for (let i = 0; i < n; i++) g[i] = (img.data[3 * i] * 4899 + img.data[3 * i + 1] * 9617 + img.data[3 * i + 2] * 1868 + 8192) >> 14;
  return g;
}

/** float32 img·f + deg·(1−f), clipped, truncated (cv2.addWeighted on float32 + astype(uint8)). */
function blend(img: RgbImage, degenerate: (i: number) => number, factor: number): RgbImage {
  const a = f32(factor);
  const b = f32(1 - factor);
  const data = Uint8Array.from(img.data, (v, i) => truncU8(f32(f32(v * a) + f32(degenerate(i) * b))));
  return { data, width: img.width, height: img.height };
}

export const invert = (img: RgbImage): RgbImage => mapImage(img, (v) => 255 - v);

/** mmcv.solarize: v < thr ? v : 255 − v. */
export const solarize = (img: RgbImage, thr: number): RgbImage => mapImage(img, (v) => (v < thr ? v : 255 - v));

/** mmpretrain SolarizeAdd: v < thr ? min(v + magnitude, 255) : v, truncated to uint8. */
export const solarizeAdd = (img: RgbImage, magnitude: number, thr = 128): RgbImage =>
  mapImage(img, (v) => (v < thr ? Math.trunc(Math.min(v + magnitude, 255)) : v));

/** mmcv.posterize: keep the top `bits` bits. */
export function posterize(img: RgbImage, bits: number): RgbImage {
  const shift = 8 - bits;
  return mapImage(img, (v) => (shift >= 8 ? 0 : (v >> shift) << shift));
}

/** mmcv.adjust_brightness (cv2): img·f + 0·(1−f). */
export const adjustBrightness = (img: RgbImage, factor: number): RgbImage => blend(img, () => 0, factor);

/** mmcv.adjust_contrast (cv2): blend with the rounded mean of the grayscale image. */
export function adjustContrast(img: RgbImage, factor: number): RgbImage {
  const g = toGray(img);
  let s = 0;
  for (const v of g) s += v;
  const mean = roundHalfEven(s / g.length);
  return blend(img, () => mean, factor);
}

/** mmcv.adjust_color (cv2): cv2.addWeighted(img, α, gray, 1−α, 0) on uint8 (rounded, saturated). */
export function adjustColor(img: RgbImage, alpha: number): RgbImage {
  const g = toGray(img);
  const a = f32(alpha);
  const b = f32(1 - alpha);
  return { data: Uint8Array.from(img.data, (v, i) => roundU8(f32(f32(v * a) + f32(g[Math.floor(i / 3)] * b)))), width: img.width, height: img.height };
}

/** mmcv.adjust_sharpness: blend with cv2.filter2D(img, [[1,1,1],[1,5,1],[1,1,1]]/13) (reflect-101 border, rounded). */
export function adjustSharpness(img: RgbImage, factor: number): RgbImage {
  const { width: w, height: h } = img;
  const k1 = f32(1 / 13);
  const k5 = f32(5 / 13);
  const r101 = (i: number, n: number) => (n === 1 ? 0 : i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  const smooth = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const v = img.data[(r101(y + dy, h) * w + r101(x + dx, w)) * 3 + c];
            acc += v * (dx === 0 && dy === 0 ? k5 : k1);
          }
        smooth[(y * w + x) * 3 + c] = roundU8(f32(acc));
      }
  return blend(img, (i) => smooth[i], factor);
}

function histogram(img: RgbImage, c: number): number[] {
  const h = new Array<number>(256).fill(0);
  for (let i = c; i < img.data.length; i += 3) h[img.data[i]]++;
  return h;
}

/** mmcv.auto_contrast (cutoff 0): per channel, stretch [low, high] to [0, 255] (float LUT, truncated). */
export function autoContrast(img: RgbImage): RgbImage {
  const luts = [0, 1, 2].map((c) => {
    const hist = histogram(img, c);
    const low = hist.findIndex((v) => v > 0);
    let high = 255;
    while (hist[high] === 0) high--;
    if (low >= high) return null;
    const scale = 255 / (high - low);
    const offset = -low * scale;
    return Array.from({ length: 256 }, (_, v) => truncU8(v * scale + offset));
  });
  return mapImage(img, (v, c) => (luts[c] ? luts[c]![v] : v));
}

/** mmcv.imequalize: per-channel histogram equalisation (PIL ImageOps.equalize algorithm). */
export function equalize(img: RgbImage): RgbImage {
  const luts = [0, 1, 2].map((c) => {
    const hist = histogram(img, c);
    const nonzero = hist.filter((v) => v > 0);
    const step = Math.floor((nonzero.reduce((a, b) => a + b, 0) - nonzero[nonzero.length - 1]) / 255);
    if (!step) return null;
    const lut = new Array<number>(256);
    let cum = 0;
    lut[0] = 0;
    for (let v = 0; v < 255; v++) {
      cum += hist[v];
      lut[v + 1] = Math.min(255, Math.floor((cum + Math.floor(step / 2)) / step));
    }
    return lut;
  });
  return mapImage(img, (v, c) => (luts[c] ? luts[c]![v] : v));
}

// ---------------------------------------------------------------- geometric (cv2.warpAffine, fixed point)

const INTER_BITS = 5;
const TAB = 1 << INTER_BITS;
const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;
const COEF_BITS = 15;
const COEF_SCALE = 1 << COEF_BITS;

/** cv2 initInterTab2D(INTER_CUBIC): 32x32 fractional positions x 16 int16 weights summing to 2^15. */
const CUBIC_TAB: Int32Array = (() => {
  const A = f32(-0.75);
  const one = new Float32Array(TAB * 4);
  for (let i = 0; i < TAB; i++) {
    const x = f32(i * f32(1 / TAB));
    const c0 = f32(f32(f32(f32(A * f32(x + 1)) - f32(5 * A)) * f32(x + 1)) + f32(8 * A));
    one[i * 4] = f32(f32(c0 * f32(x + 1)) - f32(4 * A));
    one[i * 4 + 1] = f32(f32(f32(f32(f32(A + 2) * x) - f32(A + 3)) * x) * x + 1);
    const y = f32(1 - x);
    one[i * 4 + 2] = f32(f32(f32(f32(f32(A + 2) * y) - f32(A + 3)) * y) * y + 1);
    one[i * 4 + 3] = f32(f32(f32(1 - one[i * 4]) - one[i * 4 + 1]) - one[i * 4 + 2]);
  }
  const tab = new Int32Array(TAB * TAB * 16);
  for (let i = 0; i < TAB; i++)
    for (let j = 0; j < TAB; j++) {
      const t = tab.subarray((i * TAB + j) * 16, (i * TAB + j) * 16 + 16);
      let isum = 0;
      for (let k1 = 0; k1 < 4; k1++)
        for (let k2 = 0; k2 < 4; k2++) {
          t[k1 * 4 + k2] = roundHalfEven(f32(one[i * 4 + k1] * one[j * 4 + k2]) * COEF_SCALE);
          isum += t[k1 * 4 + k2];
        }
      const diff = isum - COEF_SCALE;
      if (diff !== 0) {
        let mk = 5;
        let Mk = 5;
        for (const k of [5, 6, 9, 10]) {
          if (t[k] < t[mk]) mk = k;
          else if (t[k] > t[Mk]) Mk = k;
        }
        if (diff < 0) t[Mk] -= diff;
        else t[mk] -= diff;
      }
    }
  return tab;
})();

/** The 2x3 affine map src -> dst, as cv2.warpAffine takes it. */
export type Affine = [number, number, number, number, number, number];

/**
 * cv2.warpAffine(img, M, (w, h), flags, BORDER_CONSTANT, borderValue) for uint8 RGB: M is inverted, source
 * coordinates are computed in 10-bit fixed point and quantised to 1/32 pixel; bicubic uses cv2's int16 weight table.
 */
export function warpAffine(img: RgbImage, M: Affine, interp: 'nearest' | 'bicubic', border: [number, number, number]): RgbImage {
  const { width: w, height: h } = img;
  let D = M[0] * M[4] - M[1] * M[3];
  D = D !== 0 ? 1 / D : 0;
  const A11 = M[4] * D;
  const A22 = M[0] * D;
  const A12 = -M[1] * D;
  const A21 = -M[3] * D;
  const inv = [A11, A12, -A11 * M[2] - A12 * M[5], A21, A22, -A21 * M[2] - A22 * M[5]];
  const rd = interp === 'nearest' ? AB_SCALE / 2 : AB_SCALE / TAB / 2;
  const adelta = new Int32Array(w);
  const bdelta = new Int32Array(w);
  for (let x = 0; x < w; x++) {
    adelta[x] = roundHalfEven(inv[0] * x * AB_SCALE);
    bdelta[x] = roundHalfEven(inv[3] * x * AB_SCALE);
  }
  const src = img.data;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const X0 = roundHalfEven((inv[1] * y + inv[2]) * AB_SCALE) + rd;
    const Y0 = roundHalfEven((inv[4] * y + inv[5]) * AB_SCALE) + rd;
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      if (interp === 'nearest') {
        const sx = (X0 + adelta[x]) >> AB_BITS;
        const sy = (Y0 + bdelta[x]) >> AB_BITS;
        const inside = sx >= 0 && sx < w && sy >= 0 && sy < h;
        for (let c = 0; c < 3; c++) out[o + c] = inside ? src[(sy * w + sx) * 3 + c] : border[c];
        continue;
      }
      const X = (X0 + adelta[x]) >> (AB_BITS - INTER_BITS);
      const Y = (Y0 + bdelta[x]) >> (AB_BITS - INTER_BITS);
      const sx = (X >> INTER_BITS) - 1;
      const sy = (Y >> INTER_BITS) - 1;
      const wt = ((Y & (TAB - 1)) * TAB + (X & (TAB - 1))) * 16;
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k1 = 0; k1 < 4; k1++) {
          const yy = sy + k1;
          for (let k2 = 0; k2 < 4; k2++) {
            const xx = sx + k2;
            const v = yy >= 0 && yy < h && xx >= 0 && xx < w ? src[(yy * w + xx) * 3 + c] : border[c];
            sum += v * CUBIC_TAB[wt + k1 * 4 + k2];
          }
        }
        out[o + c] = clampU8((sum + (1 << (COEF_BITS - 1))) >> COEF_BITS);
      }
    }
  }
  return { data: out, width: w, height: h };
}

/** mmcv.imshear: M = [[1, m, 0], [0, 1, 0]] (horizontal) or [[1, 0, 0], [m, 1, 0]] (vertical), float32. */
export function shear(img: RgbImage, m: number, dir: 'horizontal' | 'vertical', border: [number, number, number], interp: 'nearest' | 'bicubic'): RgbImage {
  const s = f32(m);
  return warpAffine(img, dir === 'horizontal' ? [1, s, 0, 0, 1, 0] : [1, 0, 0, s, 1, 0], interp, border);
}

/** mmcv.imtranslate by `offset` pixels (float32 matrix). */
export function translate(img: RgbImage, offset: number, dir: 'horizontal' | 'vertical', border: [number, number, number], interp: 'nearest' | 'bicubic'): RgbImage {
  const t = f32(offset);
  return warpAffine(img, dir === 'horizontal' ? [1, 0, t, 0, 1, 0] : [1, 0, 0, 0, 1, t], interp, border);
}

/** mmcv.imrotate(angle) about ((w−1)/2, (h−1)/2): cv2.getRotationMatrix2D(center, −angle, 1). Positive = clockwise. */
export function rotate(img: RgbImage, angle: number, border: [number, number, number], interp: 'nearest' | 'bicubic'): RgbImage {
  const cx = (img.width - 1) * 0.5;
  const cy = (img.height - 1) * 0.5;
  const rad = (-angle * Math.PI) / 180;
  const a = Math.cos(rad);
  const b = Math.sin(rad);
  return warpAffine(img, [a, b, (1 - a) * cx - b * cy, -b, a, b * cx + (1 - a) * cy], interp, border);
}

// ---------------------------------------------------------------- RandAugment

export type RandAugOp =
  | 'AutoContrast' | 'Equalize' | 'Invert' | 'Rotate' | 'Posterize' | 'Solarize' | 'SolarizeAdd' | 'ColorTransform'
  | 'Contrast' | 'Brightness' | 'Sharpness' | 'ShearX' | 'ShearY' | 'TranslateX' | 'TranslateY';

/** mmpretrain RANDAUG_POLICIES['timm_increasing']: op and magnitude_range (val1, val2); null = no magnitude. */
export const TIMM_INCREASING: { op: RandAugOp; range: [number, number] | null }[] = [
  { op: 'AutoContrast', range: null },
  { op: 'Equalize', range: null },
  { op: 'Invert', range: null },
  { op: 'Rotate', range: [0, 30] },
  { op: 'Posterize', range: [4, 0] },
  { op: 'Solarize', range: [256, 0] },
  { op: 'SolarizeAdd', range: [0, 110] },
  { op: 'ColorTransform', range: [0, 0.9] },
  { op: 'Contrast', range: [0, 0.9] },
  { op: 'Brightness', range: [0, 0.9] },
  { op: 'Sharpness', range: [0, 0.9] },
  { op: 'ShearX', range: [0, 0.3] },
  { op: 'ShearY', range: [0, 0.3] },
  { op: 'TranslateX', range: [0, 0.45] },
  { op: 'TranslateY', range: [0, 0.45] },
];

export interface RandAugmentCfg {
  numPolicies: number;
  magnitudeLevel: number;
  /** Gaussian noise on the level (clipped to [0, totalLevel]); 0 = fixed. */
  magnitudeStd: number;
  totalLevel: number;
  /** hparams.pad_val in RGB order (the config's [104, 116, 124] is BGR). */
  padVal: [number, number, number];
  /** hparams.interpolation for Rotate / Shear / Translate. */
  interpolation: 'nearest' | 'bicubic';
  /** Per-op application probability (each op's default prob). */
  prob: number;
}

/** The fine-tune benchmark: rand-m9-mstd0.5-inc1, pad_val [104, 116, 124] (BGR), bicubic. */
export const FINETUNE_RANDAUG: RandAugmentCfg = {
  numPolicies: 2,
  magnitudeLevel: 9,
  magnitudeStd: 0.5,
  totalLevel: 10,
  padVal: [124, 116, 104],
  interpolation: 'bicubic',
  prob: 0.5,
};

/** Apply one op at a given (already signed) magnitude. Magnitude-free ops ignore it. */
export function applyRandAugOp(img: RgbImage, op: RandAugOp, magnitude: number, cfg: Pick<RandAugmentCfg, 'padVal' | 'interpolation'>): RgbImage {
  const { padVal, interpolation } = cfg;
  switch (op) {
    case 'AutoContrast': return autoContrast(img);
    case 'Equalize': return equalize(img);
    case 'Invert': return invert(img);
    case 'Rotate': return rotate(img, magnitude, padVal, interpolation);
    case 'Posterize': return posterize(img, Math.ceil(magnitude));
    case 'Solarize': return solarize(img, magnitude);
    case 'SolarizeAdd': return solarizeAdd(img, magnitude);
    case 'ColorTransform': return adjustColor(img, 1 + magnitude);
    case 'Contrast': return adjustContrast(img, 1 + magnitude);
    case 'Brightness': return adjustBrightness(img, 1 + magnitude);
    case 'Sharpness': return adjustSharpness(img, 1 + magnitude);
    case 'ShearX': return shear(img, magnitude, 'horizontal', padVal, interpolation);
    case 'ShearY': return shear(img, magnitude, 'vertical', padVal, interpolation);
    case 'TranslateX': return translate(img, magnitude * img.width, 'horizontal', padVal, interpolation);
    case 'TranslateY': return translate(img, magnitude * img.height, 'vertical', padVal, interpolation);
    default: {
      const never: never = op;
      throw new Error(`unknown RandAugment op ${String(never)}`);
    }
  }
}

/** Ops that never negate their magnitude (random_negative_prob = 0 and no random_negative call). */
const UNSIGNED = new Set<RandAugOp>(['Posterize', 'Solarize', 'SolarizeAdd']);

/**
 * mmpretrain RandAugment: choose numPolicies ops uniformly with replacement; each then runs with probability prob;
 * level ~ clip(N(magnitudeLevel, std), 0, total); magnitude = level / total · (val2 − val1) + val1; negated with
 * probability 0.5 for signed ops. Draw order per op: disable, level, sign.
 */
export function randAugment(img: RgbImage, cfg: RandAugmentCfg, rng: Rng, policies = TIMM_INCREASING): RgbImage {
  const chosen = Array.from({ length: cfg.numPolicies }, () => policies[rng.int(policies.length)]);
  let out = img;
  for (const { op, range } of chosen) {
    if (rng.random() > cfg.prob) continue;
    let magnitude = 0;
    if (range) {
      let level = cfg.magnitudeLevel;
      if (cfg.magnitudeStd > 0) level = Math.min(Math.max(level + cfg.magnitudeStd * rng.normal(), 0), cfg.totalLevel);
      magnitude = (level / cfg.totalLevel) * (range[1] - range[0]) + range[0];
      if (!UNSIGNED.has(op) && rng.random() < 0.5) magnitude = -magnitude;
    }
    out = applyRandAugOp(out, op, magnitude, cfg);
  }
  return out;
}

// ---------------------------------------------------------------- RandomErasing

export interface RandomErasingCfg {
  prob: number;
  minArea: number;
  maxArea: number;
  aspect: [number, number];
  /** 'rand': per-pixel N(fillColor, fillStd) (clipped to uint8); 'const': fillColor. */
  mode: 'rand' | 'const';
  /** RGB order (the config's [103.53, 116.28, 123.675] / [57.375, 57.12, 58.395] are BGR). */
  fillColor: [number, number, number];
  fillStd: [number, number, number] | null;
}

export const FINETUNE_ERASING: RandomErasingCfg = {
  prob: 0.25,
  minArea: 0.02,
  maxArea: 1 / 3,
  aspect: [0.3, 10 / 3],
  mode: 'rand',
  fillColor: [123.675, 116.28, 103.53],
  fillStd: [58.395, 57.12, 57.375],
};

/** The box mmpretrain RandomErasing.random_patch picks: log-uniform aspect, uniform area, randint offsets. */
export function randomErasingBox(width: number, height: number, cfg: RandomErasingCfg, rng: Rng): { top: number; left: number; h: number; w: number } {
  const aspect = Math.exp(rng.uniform(Math.log(f32(cfg.aspect[0])), Math.log(f32(cfg.aspect[1]))));
  const area = width * height * rng.uniform(cfg.minArea, cfg.maxArea);
  const h = Math.min(roundHalfEven(Math.sqrt(area * aspect)), height);
  const w = Math.min(roundHalfEven(Math.sqrt(area / aspect)), width);
  // np.random.randint(0, n) excludes n: the last offset is never chosen (kept as the reference)
  const top = height > h ? rng.int(height - h) : 0;
  const left = width > w ? rng.int(width - w) : 0;
  return { top, left, h, w };
}

/** mmpretrain RandomErasing on the uint8 image (it runs before the data preprocessor normalises). */
export function randomErasing(img: RgbImage, cfg: RandomErasingCfg, rng: Rng): RgbImage {
  if (rng.random() > cfg.prob) return img;
  const { top, left, h, w } = randomErasingBox(img.width, img.height, cfg, rng);
  const data = Uint8Array.from(img.data);
  for (let y = top; y < top + h; y++)
    for (let x = left; x < left + w; x++)
      for (let c = 0; c < 3; c++) {
        let v: number;
        if (cfg.mode === 'const') v = Math.trunc(cfg.fillColor[c]) & 255;
        else if (!cfg.fillStd) v = Math.trunc(rng.uniform(0, 256));
        else v = clampU8(Math.trunc(cfg.fillColor[c] + cfg.fillStd[c] * rng.normal()));
        data[(y * img.width + x) * 3 + c] = v;
      }
  return { data, width: img.width, height: img.height };
}

// ---------------------------------------------------------------- pipelines

export type ClsTrainPipeline =
  | { kind: 'finetune'; size: number; scale?: [number, number]; flipProb?: number; randAugment?: RandAugmentCfg | null; erasing?: RandomErasingCfg | null }
  | { kind: 'linear'; size: number; scale?: [number, number]; flipProb?: number };

/** Train augmentation: (decoded image, per-sample rng) -> normalised HWC float32 [size, size, 3]. */
export function buildClsTrainTransform(
  p: ClsTrainPipeline,
  mean: number[] = IMAGENET_MEAN,
  std: number[] = IMAGENET_STD,
): (img: RgbImage, rng: Rng) => Float32Array {
  const { size, scale = [0.08, 1], flipProb = 0.5 } = p;
  return (img, rng) => {
    let out = randomResizedCrop(img, size, { scale, interp: 'bicubic', style: p.kind === 'linear' ? 'mae' : 'mmpretrain' }, rng);
    if (rng.random() < flipProb) out = hflip(out);
    if (p.kind === 'finetune') {
      const ra = p.randAugment === undefined ? FINETUNE_RANDAUG : p.randAugment;
      const er = p.erasing === undefined ? FINETUNE_ERASING : p.erasing;
      if (ra) out = randAugment(out, ra, rng);
      if (er) out = randomErasing(out, er, rng);
    }
    return normalize(out, mean, std);
  };
}

/** Resize edge for a test crop: floor(size · 256 / 224) (256 at 224). */
export const testResizeFor = (size: number): number => Math.floor((size * 256) / 224);

/** Test pipeline: ResizeEdge(floor(size·256/224), short, interp) + CenterCrop(size), normalised. */
export function buildClsTestTransform(
  opts: { size: number; resize?: number; interp?: Interp },
  mean: number[] = IMAGENET_MEAN,
  std: number[] = IMAGENET_STD,
): (img: RgbImage) => Float32Array {
  const { size, resize = testResizeFor(size), interp = 'bicubic' } = opts;
  return (img) => normalize(centerCrop(resizeEdge(img, resize, 'short', interp), size), mean, std);
}
