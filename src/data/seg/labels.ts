/**
 * Segmentation label maps: exact decoding (mmseg `LoadAnnotations`, pillow backend, flag 'unchanged'),
 * reduce_zero_label, and writers for predictions and visual overlays.
 *
 * 8-bit grayscale PNG -> the stored values; palette PNG -> palette INDICES (what PIL's np.array gives for mode 'P').
 * 16-bit, sub-8-bit grayscale, interlaced and multi-channel PNGs are rejected: they are not label maps mmseg reads as-is.
 */
import sharp from 'sharp';
import { decodePngSamples, encodePng8 } from '../png.js';
import { readDataFile, type RgbImage } from '../image.js';
import { writeFileAtomic } from '../../io/atomic.js';

/** A label map, row-major HW: data[y * width + x]. */
export interface LabelMap {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Decode label PNG bytes; `name` (usually the file path) is used in error messages. */
export function decodeLabelPng(buf: Uint8Array, name = 'label PNG'): LabelMap {
  const png = decodePngSamples(buf, name);
  const { width, height, colorType, bitDepth } = png;
  if (colorType === 3) return { data: png.samples, width, height }; // indices, any bit depth
  if (colorType === 0) {
    // PIL scales 1/2/4-bit grayscale on load; such files are not ADE-style label maps
    if (bitDepth !== 8) throw new Error(`${name}: ${bitDepth}-bit grayscale PNG is not supported for label maps (expected 8-bit)`);
    return { data: png.samples, width, height };
  }
  const kind = { 2: 'RGB', 4: 'gray+alpha', 6: 'RGBA' }[colorType as 2 | 4 | 6];
  throw new Error(`${name}: label PNG is ${kind} (${png.channels} channels); expected single-channel 8-bit grayscale or palette`);
}

export async function readLabelPng(file: string): Promise<LabelMap> {
  let buf: Buffer;
  try {
    buf = await readDataFile(file);
  } catch (err) {
    throw new Error(`${file}: cannot read label map (${(err as Error).message})`, { cause: err });
  }
  return decodeLabelPng(buf, file);
}

/** mmseg reduce_zero_label on uint8: 0 -> 255, v -> v - 1 for 1..254, 255 stays 255. Returns a new array. */
export function reduceZeroLabel(label: Uint8Array): Uint8Array {
  const out = new Uint8Array(label.length);
  for (let i = 0; i < label.length; i++) {
    const v = label[i];
    out[i] = v === 0 || v === 255 ? 255 : v - 1;
  }
  return out;
}

/** Write an 8-bit grayscale PNG atomically (e.g. a prediction map; add 1 first for ADE submission format). */
export async function writeLabelPng(file: string, data: Uint8Array, width: number, height: number): Promise<void> {
  if (data.length !== width * height) throw new Error(`writeLabelPng ${file}: ${data.length} values for ${width}x${height}`);
  writeFileAtomic(file, encodePng8(data, width, height));
}

/**
 * Colour each labelled pixel with palette[label] blended over the image: out = (1 - alpha) * image + alpha * colour.
 * Pixels whose label is `ignoreIndex` (or has no palette entry) keep the image. Palette: [r, g, b] per class.
 */
export function overlay(image: RgbImage, label: LabelMap, palette: readonly (readonly number[])[], opts: { alpha?: number; ignoreIndex?: number } = {}): Uint8Array {
  const { alpha = 0.5, ignoreIndex = 255 } = opts;
  if (image.width !== label.width || image.height !== label.height) {
    throw new Error(`overlay: image is ${image.width}x${image.height} but label is ${label.width}x${label.height}`);
  }
  const out = new Uint8Array(image.data);
  for (let i = 0; i < label.data.length; i++) {
    const l = label.data[i];
    if (l === ignoreIndex || l >= palette.length) continue;
    const col = palette[l];
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round((1 - alpha) * image.data[i * 3 + c] + alpha * col[c]);
  }
  return out;
}

/** Write `overlay(...)` as an RGB PNG for visualisation. */
export async function writeOverlayPng(
  file: string,
  image: RgbImage,
  label: LabelMap,
  palette: readonly (readonly number[])[],
  opts: { alpha?: number; ignoreIndex?: number } = {},
): Promise<void> {
  const rgb = overlay(image, label, palette, opts);
  const png = await sharp(rgb, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
  writeFileAtomic(file, png);
}
