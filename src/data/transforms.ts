/**
 * Image transforms for pretraining and classification, on 8-bit HWC RGB (`RgbImage`).
 *
 * Semantics follow the reference pipelines exactly:
 * - resizing reimplements Pillow's `Image.resize` (`libImaging/Resample.c`: separable, antialiased, 22-bit fixed
 *   point, horizontal pass first with a uint8 intermediate), which is what torchvision `Resize` on PIL images and
 *   mmcv `imresize(backend='pillow')` run. Checked against Pillow output (test/data/pil-resize.json).
 * - `resizeShortSide` / `randomCrop` / `hflip`: torchvision `Resize(int)`, `RandomCrop(padding, 'reflect')`,
 *   `RandomHorizontalFlip` (the MFF "simple resized crop").
 * - `randomResizedCrop` / `resizeEdge` / `centerCrop`: mmpretrain `RandomResizedCrop`, `ResizeEdge`, mmcv `CenterCrop`.
 * - `normalize`: mmpretrain data preprocessor, `(x - mean) / std` in float32, RGB order.
 * Random draws come from the `Rng` handed in; they are not the numpy/torch streams, only the same distributions.
 */
import type { RgbImage } from './image.js';
import type { Rng } from '../io/rng.js';

export const IMAGENET_MEAN = [123.675, 116.28, 103.53];
export const IMAGENET_STD = [58.395, 57.12, 57.375];

// ---------------------------------------------------------------- Pillow-exact resampling


export type Interp = 'bilinear' | 'bicubic';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

type Filter = { support: number; weight: (x: number) => number };

const FILTERS: Record<Interp, Filter> = {
  bilinear: {
    support: 1,
    weight: (x) => {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
  bicubic: {
    // Keys cubic with a = -0.5, as Pillow
    support: 2,
    weight: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

interface Coeffs {
  ksize: number;
  /** bounds[2i] = first input index, bounds[2i+1] = number of taps, for output i */
  bounds: Int32Array;
  /** fixed-point weights, ksize per output */
  kk: Int32Array;
}

function precomputeCoeffs(inSize: number, outSize: number, filter: Filter): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C casts (int) truncate toward zero
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over rows [y0, y0 + rows) of src (width sw) -> dst (width dw, `rows` rows). */
function resampleHorizontal(src: Uint8Array, sw: number, y0: number, rows: number, dw: number, c: Coeffs): Uint8Array {
  const dst = new Uint8Array(dw * rows * 3);
  const { ksize, bounds, kk } = c;
  for (let y = 0; y < rows; y++) {
    const rowIn = (y + y0) * sw * 3;
    const rowOut = y * dw * 3;
    for (let xx = 0; xx < dw; xx++) {
      const xmin = bounds[xx * 2];
      const n = bounds[xx * 2 + 1];
      const kOff = xx * ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = rowIn + xmin * 3;
      for (let x = 0; x < n; x++, p += 3) {
        const w = kk[kOff + x];
        s0 += src[p] * w;
        s1 += src[p + 1] * w;
        s2 += src[p + 2] * w;
      }
      const o = rowOut + xx * 3;
      dst[o] = clip8(s0);
      dst[o + 1] = clip8(s1);
      dst[o + 2] = clip8(s2);
    }
  }
  return dst;
}

/** Vertical pass: src (width w) -> dst (w x dh); bounds index rows of src. */
function resampleVertical(src: Uint8Array, w: number, dh: number, c: Coeffs, shift: number): Uint8Array {
  const dst = new Uint8Array(w * dh * 3);
  const { ksize, bounds, kk } = c;
  const stride = w * 3;
  for (let yy = 0; yy < dh; yy++) {
    const ymin = bounds[yy * 2] - shift;
    const n = bounds[yy * 2 + 1];
    const kOff = yy * ksize;
    const rowOut = yy * stride;
    for (let i = 0; i < stride; i++) {
      let s = HALF;
      let p = ymin * stride + i;
      for (let y = 0; y < n; y++, p += stride) s += src[p] * kk[kOff + y];
      dst[rowOut + i] = clip8(s);
    }
  }
  return dst;
}

/** Resize to exactly (width, height) like Pillow `Image.resize((width, height), resample)`. */
export function resizeTo(img: RgbImage, width: number, height: number, interp: Interp): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`resize: bad target size ${width}x${height} (from ${img.width}x${img.height})`);
  }
  const filter = FILTERS[interp];
  if (!filter) throw new Error(`resize: unknown interpolation '${interp}' (expected bilinear or bicubic)`);
  if (width === img.width && height === img.height) return { data: img.data.slice(), width, height };

  const needH = width !== img.width;
  const needV = height !== img.height;
  const ch = precomputeCoeffs(img.width, width, filter);
  const cv = precomputeCoeffs(img.height, height, filter);
  // only the source rows the vertical pass reads go through the horizontal pass (as Pillow)
  const yFirst = cv.bounds[0];
  const yLast = cv.bounds[height * 2 - 2] + cv.bounds[height * 2 - 1];

  let data = img.data;
  let shift = 0;
  if (needH) {
    data = resampleHorizontal(img.data, img.width, yFirst, yLast - yFirst, width, ch);
    shift = yFirst;
  }
  if (needV) data = resampleVertical(data, width, height, cv, shift);
  return { data, width, height };
}

// ---------------------------------------------------------------- geometry

/** Python's round(): half to even (used by mmcv / mmpretrain for crop offsets). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The rectangle [x, x+w) x [y, y+h), which must lie inside the image. */
export function crop(img: RgbImage, x: number, y: number, w: number, h: number): RgbImage {
  if (!(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= img.width && y + h <= img.height) || ![x, y, w, h].every(Number.isInteger)) {
    throw new Error(`crop: box x=${x} y=${y} w=${w} h=${h} is not inside the ${img.width}x${img.height} image`);
  }
  const data = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    const src = ((y + r) * img.width + x) * 3;
    data.set(img.data.subarray(src, src + w * 3), r * w * 3);
  }
  return { data, width: w, height: h };
}

/** Mirror left-right. */
export function hflip(img: RgbImage): RgbImage {
  const { width: w, height: h } = img;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const s = row + x * 3;
      const d = row + (w - 1 - x) * 3;
      data[d] = img.data[s];
      data[d + 1] = img.data[s + 1];
      data[d + 2] = img.data[s + 2];
    }
  }
  return { data, width: w, height: h };
}

/** numpy/torch 'reflect' index (edge not repeated): -1 -> 1, n -> n-2. */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/** Pad every side by `pad` pixels, reflecting without repeating the edge (torchvision padding_mode='reflect'). */
export function padReflect(img: RgbImage, pad: number): RgbImage {
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`padReflect: padding must be a non-negative integer, got ${pad}`);
  if (pad === 0) return img;
  const w = img.width + 2 * pad;
  const h = img.height + 2 * pad;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = reflectIndex(y - pad, img.height);
    for (let x = 0; x < w; x++) {
      const s = (sy * img.width + reflectIndex(x - pad, img.width)) * 3;
      const d = (y * w + x) * 3;
      data[d] = img.data[s];
      data[d + 1] = img.data[s + 1];
      data[d + 2] = img.data[s + 2];
    }
  }
  return { data, width: w, height: h };
}

/** torchvision `Resize(size)` with an int: shorter side -> size, longer side int(size * long / short). */
export function resizeShortSide(img: RgbImage, size: number, interp: Interp): RgbImage {
  const { width: w, height: h } = img;
  const short = Math.min(w, h);
  const long = Math.max(w, h);
  const newLong = Math.trunc((size * long) / short);
  return w <= h ? resizeTo(img, size, newLong, interp) : resizeTo(img, newLong, size, interp);
}

/**
 * mmpretrain `ResizeEdge(scale, edge)`: the chosen edge -> size, the other int(size * other / edge).
 * ('short' resizes the width when w < h, else the height, as mmpretrain.)
 */
export function resizeEdge(img: RgbImage, size: number, edge: 'short' | 'long' = 'short', interp: Interp = 'bilinear'): RgbImage {
  const { width: w, height: h } = img;
  const resizeWidth = (edge === 'short' && w < h) || (edge === 'long' && w > h);
  return resizeWidth
    ? resizeTo(img, size, Math.trunc((size * h) / w), interp)
    : resizeTo(img, Math.trunc((size * w) / h), size, interp);
}

/** mmcv `CenterCrop(size)`: offsets round((H - size) / 2) (half to even); clipped to the image when it is smaller. */
export function centerCrop(img: RgbImage, size: number): RgbImage {
  const y1 = Math.max(0, roundHalfEven((img.height - size) / 2));
  const x1 = Math.max(0, roundHalfEven((img.width - size) / 2));
  const y2 = Math.min(img.height, y1 + size);
  const x2 = Math.min(img.width, x1 + size);
  return crop(img, x1, y1, x2 - x1, y2 - y1);
}

/**
 * torchvision `RandomCrop(size, padding, padding_mode='reflect')`: pad, then a uniform crop position
 * (row offset drawn first, then column, as `get_params`).
 */
export function randomCrop(img: RgbImage, size: number, padding: number, rng: Rng): RgbImage {
  const padded = padReflect(img, padding);
  const { width: w, height: h } = padded;
  if (h < size || w < size) {
    throw new Error(`randomCrop: crop ${size}x${size} is larger than the padded image ${w}x${h}`);
  }
  if (w === size && h === size) return padded;
  const top = rng.int(h - size + 1);
  const left = rng.int(w - size + 1);
  return crop(padded, left, top, size, size);
}

export type RandomResizedCropOptions = {
  /** area fraction range (mmpretrain crop_ratio_range) */
  scale?: [number, number];
  /** aspect ratio w/h range, drawn log-uniformly */
  ratio?: [number, number];
  interp?: Interp;
  maxAttempts?: number;
  /**
   * 'mmpretrain' (default): up to maxAttempts draws, then a centre-crop fallback.
   * 'mae': MAE's `MAERandomResizedCrop` (util/crop.py, used for linear probing): one draw, w/h clamped to the image.
   */
  style?: 'mmpretrain' | 'mae';
};

/** The crop box mmpretrain `RandomResizedCrop.rand_crop_params` would pick. */
export function randomResizedCropBox(
  width: number,
  height: number,
  opts: RandomResizedCropOptions,
  rng: Rng,
): { x: number; y: number; w: number; h: number } {
  const { scale = [0.08, 1], ratio = [3 / 4, 4 / 3], maxAttempts = 10, style = 'mmpretrain' } = opts;
  if (scale[0] > scale[1] || ratio[0] > ratio[1]) {
    throw new Error(`randomResizedCrop: ranges must be [min, max], got scale ${scale} ratio ${ratio}`);
  }
  const area = width * height;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  if (style === 'mae') {
    const targetArea = rng.uniform(scale[0], scale[1]) * area;
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const w = Math.min(roundHalfEven(Math.sqrt(targetArea * aspect)), width);
    const h = Math.min(roundHalfEven(Math.sqrt(targetArea / aspect)), height);
    const y = rng.int(height - h + 1);
    const x = rng.int(width - w + 1);
    return { x, y, w, h };
  }
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const targetArea = rng.uniform(scale[0], scale[1]) * area;
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const tw = roundHalfEven(Math.sqrt(targetArea * aspect));
    const th = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (tw > 0 && tw <= width && th > 0 && th <= height) {
      const y = rng.int(height - th + 1);
      const x = rng.int(width - tw + 1);
      return { x, y, w: tw, h: th };
    }
  }
  // fallback: central crop, aspect ratio clamped into the range
  const inRatio = width / height;
  let tw = width;
  let th = height;
  if (inRatio < ratio[0]) th = roundHalfEven(tw / ratio[0]);
  else if (inRatio > ratio[1]) tw = roundHalfEven(th * ratio[1]);
  return { x: Math.floor((width - tw) / 2), y: Math.floor((height - th) / 2), w: tw, h: th };
}

/** mmpretrain `RandomResizedCrop(size, crop_ratio_range=scale, backend='pillow')`: crop, then resize to size x size. */
export function randomResizedCrop(img: RgbImage, size: number, opts: RandomResizedCropOptions, rng: Rng): RgbImage {
  const { interp = 'bilinear' } = opts;
  const b = randomResizedCropBox(img.width, img.height, opts, rng);
  return resizeTo(crop(img, b.x, b.y, b.w, b.h), size, size, interp);
}

// ---------------------------------------------------------------- to float

/** (x - mean[c]) / std[c] in float32 arithmetic (as the torch data preprocessor); HWC RGB out. */
export function normalize(img: RgbImage, mean: number[] = IMAGENET_MEAN, std: number[] = IMAGENET_STD): Float32Array {
  if (mean.length !== 3 || std.length !== 3) throw new Error(`normalize: mean/std need 3 values, got ${mean} / ${std}`);
  const m = mean.map(Math.fround);
  const s = std.map(Math.fround);
  if (s.some((v) => !(v > 0))) throw new Error(`normalize: std must be positive, got ${std}`);
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i += 3) {
    out[i] = Math.fround(img.data[i] - m[0]) / s[0];
    out[i + 1] = Math.fround(img.data[i + 1] - m[1]) / s[1];
    out[i + 2] = Math.fround(img.data[i + 2] - m[2]) / s[2];
  }
  return out;
}

// ---------------------------------------------------------------- pretraining pipelines

/**
 * 'simple-resized-crop' (MFF, from PixMIM): Resize(size, short side) + RandomCrop(size, padding, reflect) + HFlip(0.5).
 * 'random-resized-crop' (MAE): RandomResizedCrop(size, scale, ratio 3/4..4/3) + HFlip(0.5).
 */
export type PretrainPipeline =
  | { kind: 'simple-resized-crop'; size: number; padding: number; flip: boolean; interp: Interp }
  | { kind: 'random-resized-crop'; size: number; scale: [number, number]; flip: boolean; interp: Interp };

/** The augmentation as a function of (decoded image, per-sample rng) -> normalised HWC float32 [size, size, 3]. */
export function buildPretrainTransform(
  p: PretrainPipeline,
  mean: number[] = IMAGENET_MEAN,
  std: number[] = IMAGENET_STD,
): (img: RgbImage, rng: Rng) => Promise<Float32Array> {
  const geometric = (img: RgbImage, rng: Rng): RgbImage => {
    switch (p.kind) {
      case 'simple-resized-crop':
        return randomCrop(resizeShortSide(img, p.size, p.interp), p.size, p.padding, rng);
      case 'random-resized-crop':
        return randomResizedCrop(img, p.size, { scale: p.scale, interp: p.interp }, rng);
      default: {
        const never: never = p;
        throw new Error(`unknown pretrain pipeline ${JSON.stringify(never)}`);
      }
    }
  };
  return async (img, rng) => {
    let out = geometric(img, rng);
    if (p.flip && rng.random() < 0.5) out = hflip(out);
    return normalize(out, mean, std);
  };
}

/** Classification test pipeline: ResizeEdge(resize, short) + CenterCrop(crop), normalised. */
export function buildEvalTransform(
  opts: { resize: number; crop: number; interp: Interp },
  mean: number[] = IMAGENET_MEAN,
  std: number[] = IMAGENET_STD,
): (img: RgbImage, rng: Rng) => Promise<Float32Array> {
  return async (img) => normalize(centerCrop(resizeEdge(img, opts.resize, 'short', opts.interp), opts.crop), mean, std);
}
