/**
 * Minimal PNG reader/writer (PNG spec, ISO/IEC 15948). For label maps: pngjs and sharp both expand palette images
 * to colours; a label map needs the raw samples (palette INDICES, grayscale values), so we parse the chunks, inflate
 * IDAT with node:zlib and undo the scanline filters ourselves. Also the fast path of data/image.ts for small 8-bit
 * PNG images (sharp's per-call setup costs more than decoding a 28×28 image).
 */
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { checkPixels } from './limits.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA */
  colorType: number;
  interlace: number;
}

export interface PngSamples extends PngHeader {
  channels: number;
  /** Unpacked samples, one per channel per pixel (HWC); 8-bit and below only. */
  samples: Uint8Array;
  /** RGB palette entries (colour type 3), 3 bytes each. */
  palette: Uint8Array | null;
  /** Types of the chunks other than IHDR, PLTE, IDAT and IEND, in file order (e.g. tRNS, iCCP, gAMA). */
  ancillary: string[];
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Parse chunks, inflate and unfilter. Throws for 16-bit or interlaced images (label maps are neither). */
export function decodePngSamples(buf: Uint8Array, name = 'PNG'): PngSamples {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8 || !b.subarray(0, 8).equals(SIGNATURE)) throw new Error(`${name}: not a PNG file (bad signature)`);
  let off = 8;
  let header: PngHeader | null = null;
  let palette: Uint8Array | null = null;
  const idat: Buffer[] = [];
  const ancillary: string[] = [];
  while (off + 8 <= b.length) {
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    const data = b.subarray(off + 8, off + 8 + len);
    if (data.length !== len) throw new Error(`${name}: truncated PNG (chunk ${type} needs ${len} bytes, ${data.length} left)`);
    if (off + 12 + len > b.length) throw new Error(`${name}: truncated PNG (chunk ${type} has no CRC)`);
    if (crc32(b.subarray(off + 4, off + 8 + len)) !== b.readUInt32BE(off + 8 + len)) throw new Error(`${name}: corrupt PNG (CRC mismatch in chunk ${type})`);
    if (type === 'IHDR') {
      header = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), bitDepth: data[8], colorType: data[9], interlace: data[12] };
    } else if (type === 'PLTE') {
      palette = new Uint8Array(data);
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    } else {
      ancillary.push(type);
    }
    off += 12 + len;
  }
  if (!header) throw new Error(`${name}: PNG has no IHDR chunk`);
  const { width, height, bitDepth, colorType, interlace } = header;
  const channels = CHANNELS[colorType];
  if (channels === undefined) throw new Error(`${name}: invalid PNG colour type ${colorType}`);
  if (bitDepth === 16) throw new Error(`${name}: 16-bit PNG is not supported for label maps (expected 8-bit grayscale or palette)`);
  if (![1, 2, 4, 8].includes(bitDepth)) throw new Error(`${name}: invalid PNG bit depth ${bitDepth}`);
  if (interlace !== 0) throw new Error(`${name}: interlaced (Adam7) PNG is not supported for label maps`);
  if (idat.length === 0) throw new Error(`${name}: PNG has no image data (IDAT)`);
  checkPixels(name, width, height);

  const bitsPerPixel = bitDepth * channels;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  let raw: Buffer;
  try {
    // never inflate more than the header promises (a zip bomb in IDAT)
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: height * (stride + 1) });
  } catch (err) {
    throw new Error(`${name}: corrupt PNG image data (${(err as Error).message})`, { cause: err });
  }
  const bpp = Math.max(1, bitsPerPixel >> 3); // filter byte distance
  if (raw.length < height * (stride + 1)) throw new Error(`${name}: truncated PNG image data (${raw.length} bytes for ${width}x${height})`);

  const rows = new Uint8Array(height * stride);
  const prev = new Uint8Array(stride); // the row above the first is zeros
  for (let y = 0; y < height; y++) {
    const ft = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = rows.subarray(y * stride, (y + 1) * stride);
    const up = y === 0 ? prev : rows.subarray((y - 1) * stride, y * stride);
    unfilterRow(ft, src, cur, up, bpp, name, y);
  }

  const samples = new Uint8Array(width * height * channels);
  if (bitDepth === 8) {
    samples.set(rows);
  } else {
    const perByte = 8 / bitDepth;
    const mask = (1 << bitDepth) - 1;
    const rowSamples = width * channels;
    for (let y = 0; y < height; y++) {
      for (let i = 0; i < rowSamples; i++) {
        const byte = rows[y * stride + Math.floor(i / perByte)];
        const shift = 8 - bitDepth * ((i % perByte) + 1);
        samples[y * rowSamples + i] = (byte >> shift) & mask;
      }
    }
  }
  return { ...header, channels, samples, palette, ancillary };
}

function unfilterRow(ft: number, src: Uint8Array, cur: Uint8Array, up: Uint8Array, bpp: number, name: string, y: number): void {
  const n = src.length;
  switch (ft) {
    case 0:
      cur.set(src);
      break;
    case 1: // Sub
      for (let i = 0; i < n; i++) cur[i] = (src[i] + (i >= bpp ? cur[i - bpp] : 0)) & 255;
      break;
    case 2: // Up
      for (let i = 0; i < n; i++) cur[i] = (src[i] + up[i]) & 255;
      break;
    case 3: // Average
      for (let i = 0; i < n; i++) cur[i] = (src[i] + (((i >= bpp ? cur[i - bpp] : 0) + up[i]) >> 1)) & 255;
      break;
    case 4: // Paeth
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? cur[i - bpp] : 0;
        const b = up[i];
        const c = i >= bpp ? up[i - bpp] : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        cur[i] = (src[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      break;
    default:
      throw new Error(`${name}: corrupt PNG (unknown filter type ${ft} on row ${y})`);
  }
}

/** One PNG chunk: length, type, data, CRC-32 of type + data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encode 8-bit samples (1 channel gray, or 1 channel palette indices with `palette`) as PNG, filter 0. */
export function encodePng8(samples: Uint8Array, width: number, height: number, palette?: Uint8Array): Buffer {
  if (samples.length !== width * height) throw new Error(`encodePng8: ${samples.length} samples for ${width}x${height}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = palette ? 3 : 0;
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(samples.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const parts = [SIGNATURE, pngChunk('IHDR', ihdr)];
  if (palette) parts.push(pngChunk('PLTE', palette));
  parts.push(pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}
