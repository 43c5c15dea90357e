/**
 * mmseg ADE20K pipelines on (image HWC uint8 RGB, label HW uint8), every random choice from an Rng:
 *   train: RandomResize(scale, ratio_range, keep_ratio) -> RandomCrop(crop, cat_max_ratio) -> RandomFlip(0.5)
 *          -> PhotoMetricDistortion -> normalise -> pad (image 0 after normalising, label 255) to the crop size
 *   test:  Resize(scale, keep_ratio) -> normalise; the label stays at the original resolution.
 * References: mmcv transforms/processing.py (RandomResize, Resize, RandomFlip), mmseg datasets/transforms/transforms.py
 * (RandomCrop, PhotoMetricDistortion), mmseg models/data_preprocessor.py (normalise, stack_batch padding).
 * mmseg works on BGR and converts to RGB in the preprocessor; we stay in RGB (the colour ops are channel-aware).
 */
import type { Rng } from '../../io/rng.js';
import type { RgbImage } from '../image.js';
import type { LabelMap } from './labels.js';
import { rescaleSize, resizeBilinear, resizeNearest } from './resize.js';
import { hsvToRgb, rgbToHsv } from './hsv.js';

export const IMAGENET_MEAN: readonly [number, number, number] = [123.675, 116.28, 103.53];
export const IMAGENET_STD: readonly [number, number, number] = [58.395, 57.12, 57.375];

export interface PhotoMetricOptions {
  brightnessDelta?: number;
  contrastRange?: [number, number];
  saturationRange?: [number, number];
  hueDelta?: number;
}

export interface SegTrainPipeline {
  /** (long, short) target of RandomResize before the ratio, mmseg (2048, 512). */
  scale: [number, number];
  ratioRange?: [number, number];
  /** [h, w] */
  cropSize: [number, number];
  catMaxRatio?: number;
  flipProb?: number;
  /** false disables PhotoMetricDistortion. */
  photometric?: PhotoMetricOptions | false;
  mean?: readonly number[];
  std?: readonly number[];
  ignoreIndex?: number;
}

export interface SegTrainSample {
  /** [cropH, cropW, 3] normalised, zero-padded. */
  image: Float32Array;
  /** [cropH, cropW], padded with ignoreIndex. */
  label: Uint8Array;
  height: number;
  width: number;
}

/** mmcv RandomResize: ratio ~ U[lo, hi), scale = (int(s0 * ratio), int(s1 * ratio)); then Resize keep_ratio. */
export function randomResize(image: RgbImage, label: LabelMap, scale: readonly [number, number], ratioRange: readonly [number, number], rng: Rng): { image: RgbImage; label: LabelMap } {
  const ratio = rng.random() * (ratioRange[1] - ratioRange[0]) + ratioRange[0];
  const target: [number, number] = [Math.trunc(scale[0] * ratio), Math.trunc(scale[1] * ratio)];
  return resizeKeepRatio(image, label, target);
}

/** mmcv Resize(keep_ratio=True): bilinear image, nearest label, same size. */
export function resizeKeepRatio(image: RgbImage, label: LabelMap | null, scale: readonly [number, number]): { image: RgbImage; label: LabelMap } {
  const { width, height } = rescaleSize(image.width, image.height, scale);
  const img = { data: resizeBilinear(image.data, image.width, image.height, 3, width, height), width, height };
  const lab = label ? { data: resizeNearest(label.data, label.width, label.height, 1, width, height), width, height } : (null as unknown as LabelMap);
  return { image: img, label: lab };
}

/** mmseg RandomCrop with cat_max_ratio: retry up to 10 times until no class covers >= ratio of the valid pixels. */
export function randomCrop(image: RgbImage, label: LabelMap, cropSize: readonly [number, number], catMaxRatio: number, ignoreIndex: number, rng: Rng): { image: RgbImage; label: LabelMap } {
  const [ch, cw] = cropSize;
  const bbox = () => {
    const offH = rng.int(Math.max(image.height - ch, 0) + 1);
    const offW = rng.int(Math.max(image.width - cw, 0) + 1);
    return { y1: offH, y2: Math.min(offH + ch, image.height), x1: offW, x2: Math.min(offW + cw, image.width) };
  };
  let box = bbox();
  if (catMaxRatio < 1) {
    const counts = new Int32Array(256);
    for (let attempt = 0; attempt < 10; attempt++) {
      counts.fill(0);
      for (let y = box.y1; y < box.y2; y++) for (let x = box.x1; x < box.x2; x++) counts[label.data[y * label.width + x]]++;
      let kinds = 0;
      let max = 0;
      let sum = 0;
      for (let v = 0; v < 256; v++) {
        if (v === ignoreIndex || counts[v] === 0) continue;
        kinds++;
        sum += counts[v];
        if (counts[v] > max) max = counts[v];
      }
      if (kinds > 1 && max / sum < catMaxRatio) break;
      box = bbox();
    }
  }
  return { image: cropImage(image, box), label: cropLabel(label, box) };
}

interface Box {
  y1: number;
  y2: number;
  x1: number;
  x2: number;
}

function cropImage(image: RgbImage, b: Box): RgbImage {
  const w = b.x2 - b.x1;
  const h = b.y2 - b.y1;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(image.data.subarray(((b.y1 + y) * image.width + b.x1) * 3, ((b.y1 + y) * image.width + b.x2) * 3), y * w * 3);
  return { data, width: w, height: h };
}

function cropLabel(label: LabelMap, b: Box): LabelMap {
  const w = b.x2 - b.x1;
  const h = b.y2 - b.y1;
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) data.set(label.data.subarray((b.y1 + y) * label.width + b.x1, (b.y1 + y) * label.width + b.x2), y * w);
  return { data, width: w, height: h };
}

/** Horizontal flip in place (image HWC, label HW). */
export function flipHorizontal(image: RgbImage, label: LabelMap): void {
  const { width: w, height: h } = image;
  for (let y = 0; y < h; y++) {
    for (let x = 0, r = w - 1; x < r; x++, r--) {
      const a = (y * w + x) * 3;
      const b = (y * w + r) * 3;
      for (let k = 0; k < 3; k++) {
        const t = image.data[a + k];
        image.data[a + k] = image.data[b + k];
        image.data[b + k] = t;
      }
      const t = label.data[y * w + x];
      label.data[y * w + x] = label.data[y * w + r];
      label.data[y * w + r] = t;
    }
  }
}

/** mmseg `convert`: clip(float32(v) * alpha + beta, 0, 255) truncated to uint8, in float32. */
function convert(data: Uint8Array, alpha: number, beta: number, stride = 1, offset = 0): void {
  const a = Math.fround(alpha);
  const b = Math.fround(beta);
  for (let i = offset; i < data.length; i += stride) {
    const v = Math.fround(Math.fround(data[i] * a) + b);
    data[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
}

/**
 * mmseg PhotoMetricDistortion, in place: brightness (p 0.5) -> mode = randint(2); mode 1: contrast now (p 0.5)
 * -> saturation (p 0.5, cv2 HSV) -> hue (p 0.5, shift in [-delta, delta)) -> mode 0: contrast last (p 0.5).
 */
export function photoMetricDistortion(image: RgbImage, rng: Rng, opts: PhotoMetricOptions = {}): void {
  const { brightnessDelta = 32, contrastRange = [0.5, 1.5], saturationRange = [0.5, 1.5], hueDelta = 18 } = opts;
  const d = image.data;
  const contrast = () => {
    if (rng.int(2)) convert(d, rng.uniform(contrastRange[0], contrastRange[1]), 0);
  };
  if (rng.int(2)) convert(d, 1, rng.uniform(-brightnessDelta, brightnessDelta));
  const mode = rng.int(2);
  if (mode === 1) contrast();
  if (rng.int(2)) {
    const hsv = rgbToHsv(d);
    convert(hsv, rng.uniform(saturationRange[0], saturationRange[1]), 0, 3, 1);
    d.set(hsvToRgb(hsv));
  }
  if (rng.int(2)) {
    const hsv = rgbToHsv(d);
    const shift = -hueDelta + rng.int(2 * hueDelta); // numpy randint(-18, 18): upper bound exclusive
    for (let i = 0; i < hsv.length; i += 3) hsv[i] = (((hsv[i] + shift) % 180) + 180) % 180;
    d.set(hsvToRgb(hsv));
  }
  if (mode === 0) contrast();
}

/** SegDataPreProcessor: (x - mean) / std in float32, HWC. */
export function normalize(image: RgbImage, mean: readonly number[] = IMAGENET_MEAN, std: readonly number[] = IMAGENET_STD): Float32Array {
  const m = mean.map(Math.fround);
  const s = std.map(Math.fround);
  const out = new Float32Array(image.data.length);
  // torch float32: (x - mean) rounded to float32, then / std
  for (let i = 0; i < out.length; i += 3) for (let k = 0; k < 3; k++) out[i + k] = Math.fround(image.data[i + k] - m[k]) / s[k];
  return out;
}

/** stack_batch: pad right/bottom to [h, w]: image with 0 (after normalising), label with ignoreIndex. */
export function padTo(image: Float32Array, label: Uint8Array, srcH: number, srcW: number, h: number, w: number, ignoreIndex = 255): { image: Float32Array; label: Uint8Array } {
  if (srcH === h && srcW === w) return { image, label };
  if (srcH > h || srcW > w) throw new Error(`padTo: ${srcH}x${srcW} is larger than the pad size ${h}x${w}`);
  const img = new Float32Array(h * w * 3);
  const lab = new Uint8Array(h * w).fill(ignoreIndex);
  for (let y = 0; y < srcH; y++) {
    img.set(image.subarray(y * srcW * 3, (y + 1) * srcW * 3), y * w * 3);
    lab.set(label.subarray(y * srcW, (y + 1) * srcW), y * w);
  }
  return { image: img, label: lab };
}

/** The whole train pipeline for one sample. Does not modify its inputs. */
export function segTrainTransform(image: RgbImage, label: LabelMap, cfg: SegTrainPipeline, rng: Rng): SegTrainSample {
  const { scale, ratioRange = [0.5, 2.0], cropSize, catMaxRatio = 0.75, flipProb = 0.5, photometric = {}, mean = IMAGENET_MEAN, std = IMAGENET_STD, ignoreIndex = 255 } = cfg;
  if (image.width !== label.width || image.height !== label.height) {
    throw new Error(`segTrainTransform: image ${image.width}x${image.height} and label ${label.width}x${label.height} differ`);
  }
  let s = randomResize(image, label, scale, ratioRange, rng);
  s = randomCrop(s.image, s.label, cropSize, catMaxRatio, ignoreIndex, rng);
  if (rng.random() < flipProb) flipHorizontal(s.image, s.label);
  if (photometric !== false) photoMetricDistortion(s.image, rng, photometric);
  const norm = normalize(s.image, mean, std);
  const padded = padTo(norm, s.label.data, s.image.height, s.image.width, cropSize[0], cropSize[1], ignoreIndex);
  return { image: padded.image, label: padded.label, height: cropSize[0], width: cropSize[1] };
}

/** Test pipeline: Resize keep-ratio to `scale`, normalise. The label is not touched (evaluated at original size). */
export function segTestTransform(image: RgbImage, scale: readonly [number, number], mean: readonly number[] = IMAGENET_MEAN, std: readonly number[] = IMAGENET_STD): { image: Float32Array; height: number; width: number } {
  const { image: r } = resizeKeepRatio(image, null, scale);
  return { image: normalize(r, mean, std), height: r.height, width: r.width };
}
