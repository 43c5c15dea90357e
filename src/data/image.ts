/**
 * Decoding image files to 8-bit HWC RGB with sharp (libvips).
 *
 * Mirrors what mmpretrain's `LoadImageFromFile` (cv2 `IMREAD_COLOR`) + `ToPIL(to_rgb=True)` hand to the
 * transforms: EXIF orientation applied, grayscale replicated to 3 channels, alpha dropped (cv2 does not
 * composite), 16-bit samples reduced to 8-bit, CMYK converted to sRGB. JPEG decoders differ between
 * libjpeg builds, so decoded pixels may differ from cv2 by a grey level on some files. Images above the
 * decompression-bomb limit (data/limits.ts) are refused before decoding.
 *
 * Small PNGs (file ≤ 256 KB, ≤ 512×512 pixels, 8-bit or palette, not interlaced, no colour-management or
 * orientation chunk) are decoded in JS (data/png.ts): the same bytes as sharp (test/data/image.test.ts), without sharp's per-call setup, which costs
 * ~0.3 ms of the main thread per image — more than decoding a 28×28 Fashion-MNIST image. Anything else, and any PNG
 * the JS reader refuses (corrupt, truncated: sharp then reports it), goes to sharp.
 */
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { maxImagePixels } from './limits.js';
import { decodePngSamples } from './png.js';

sharp.cache(false); // streaming a dataset: libvips' operation cache only costs memory here

/** An 8-bit RGB image, row-major HWC: data[(y * width + x) * 3 + c]. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type DecodeOptions = {
  /** 'drop' (default, as cv2/mmcv) discards alpha; 'flatten' composites onto `background`. */
  alpha?: 'drop' | 'flatten';
  /** RGB background for alpha 'flatten'. Default white. */
  background?: [number, number, number];
  /** 'auto' (default): small PNGs in JS, the rest with sharp; 'sharp': always sharp (tests compare the two). */
  decoder?: 'auto' | 'sharp';
};

/**
 * Dataset files (images, label maps) up to this size are read synchronously: the asynchronous read's fixed cost (promise + thread-pool round trips,
 * ~0.07 ms of CPU per file, measured on the Fashion-MNIST PNGs) is several times that of reading a few KB; larger
 * files stay asynchronous, so a slow disk does not stall the training loop that shares the main thread.
 */
const SYNC_READ_MAX = 256 * 1024;

export async function readDataFile(file: string): Promise<Buffer> {
  return statSync(file).size <= SYNC_READ_MAX ? readFileSync(file) : readFile(file);
}

/** PNG chunks after which sharp's pixels may differ from the stored samples (colour management, orientation). */
const SHARP_ONLY_CHUNKS = new Set(['iCCP', 'sRGB', 'gAMA', 'cHRM', 'eXIf', 'sBIT']);
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Images up to this many pixels (and files up to SYNC_READ_MAX) take the JS path; larger ones decode faster in sharp, off the main thread. */
const JS_PNG_MAX_PIXELS = 512 * 512;

/** The JS path: RGB of an eligible PNG (alpha dropped, gray replicated, palette expanded), else null (use sharp). */
function decodePngFast(buf: Uint8Array, alpha: 'drop' | 'flatten'): RgbImage | null {
  if (buf.length < 33 || PNG_SIGNATURE.some((v, i) => buf[i] !== v)) return null;
  // IHDR is the first chunk (bytes 8-32): decide from it before inflating anything
  const ihdr = Buffer.from(buf.buffer, buf.byteOffset + 16, 13);
  const [w0, h0, depth, type, interlace] = [ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9], ihdr[12]];
  if ((depth !== 8 && type !== 3) || interlace !== 0 || w0 * h0 > JS_PNG_MAX_PIXELS) return null;
  if (alpha === 'flatten' && (type === 4 || type === 6)) return null;
  let png;
  try {
    png = decodePngSamples(buf);
  } catch {
    return null; // corrupt or truncated: sharp reports why
  }
  const { width, height, colorType, channels, samples, palette, ancillary } = png;
  if (ancillary.some((c) => SHARP_ONLY_CHUNKS.has(c)) || (alpha === 'flatten' && ancillary.includes('tRNS'))) return null;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  if (colorType === 3) {
    if (!palette) return null;
    for (let i = 0; i < n; i++) {
      const k = samples[i] * 3;
      if (k + 2 >= palette.length) return null; // index past the palette: sharp's call
      out[3 * i] = palette[k];
      out[3 * i + 1] = palette[k + 1];
      out[3 * i + 2] = palette[k + 2];
    }
  } else if (colorType === 0 || colorType === 4) {
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = samples[i * channels];
  } else {
    for (let i = 0; i < n; i++) {
      out[3 * i] = samples[i * channels];
      out[3 * i + 1] = samples[i * channels + 1];
      out[3 * i + 2] = samples[i * channels + 2];
    }
  }
  return { data: out, width, height };
}

/** Decode an image file (JPEG, PNG, WebP, TIFF, ...) to 8-bit RGB. Throws `<file>: cannot decode image (<why>)`. */
export async function decodeImage(file: string, opts: DecodeOptions = {}): Promise<RgbImage> {
  try {
    return await decodeOnce(file, opts);
  } catch (err) {
    let why = reason(err);
    // libvips keeps one error buffer per process: a failure among concurrent decodes may lose its message
    if (/^unknown error$/i.test(why) || why === '') why = await decodeOnce(file, opts).then(() => why, (e: unknown) => reason(e) || why);
    if (/exceeds pixel limit/.test(why)) why += ` (decompression-bomb limit ${maxImagePixels()} pixels; MFF_MAX_IMAGE_PIXELS raises it)`;
    throw new Error(`${file}: cannot decode image (${why})`, { cause: err });
  }
}

async function decodeOnce(file: string, opts: DecodeOptions): Promise<RgbImage> {
  const { alpha = 'drop', background = [255, 255, 255], decoder = 'auto' } = opts;
  // small files are read here (synchronously: see SYNC_READ_MAX) and small PNGs decoded in JS; large files go to sharp by path
  const input: string | Buffer = statSync(file).size <= SYNC_READ_MAX ? readFileSync(file) : file;
  const fast = decoder === 'auto' && typeof input !== 'string' ? decodePngFast(input, alpha) : null;
  if (fast) return fast;
  // failOn 'error': reject truncated/corrupt data, but accept files that only raise libjpeg warnings
  // (ImageNet has some; cv2 decodes them too).
  let pipe = sharp(input, { failOn: 'error', limitInputPixels: maxImagePixels() }).rotate();
  pipe = alpha === 'flatten' ? pipe.flatten({ background: { r: background[0], g: background[1], b: background[2] } }) : pipe.removeAlpha();
  const { data, info } = await pipe.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
  if (data.length !== info.width * info.height * 3) throw new Error(`decoded ${data.length} bytes for ${info.width}x${info.height}x3`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** libvips repeats its warnings; keep each distinct line once. */
function reason(err: unknown): string {
  const lines = (err instanceof Error ? err.message : String(err)).split('\n').map((l) => l.trim()).filter(Boolean);
  return [...new Set(lines)].join('; ');
}

/** Make an RgbImage from raw HWC bytes, checking the size. */
export function rgbImage(data: Uint8Array, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`rgbImage: bad size ${width}x${height}`);
  }
  if (data.length !== width * height * 3) throw new Error(`rgbImage: ${data.length} bytes for ${width}x${height}x3`);
  return { data, width, height };
}
