/** Label PNG decoding: grayscale values, palette indices (all filter types), rejection of non-label PNGs. */
import { tempDir } from '../engine/temp-dirs.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { PNG } from 'pngjs';
import { describe, expect, test } from 'vitest';
import { decodeLabelPng, overlay, readLabelPng, reduceZeroLabel, writeLabelPng, writeOverlayPng } from '../../src/data/seg/labels.js';

const dir = tempDir('labels-');

/** A test-side PNG writer, independent of src: cycles filter types 0..4 row by row. */
function buildPng(w: number, h: number, colorType: number, bitDepth: number, rows: Uint8Array[], plte?: Uint8Array): Buffer {
  const chunk = (type: string, data: Uint8Array) => {
    const b = Buffer.alloc(12 + data.length);
    b.writeUInt32BE(data.length, 0);
    b.write(type, 4, 'latin1');
    b.set(data, 8);
    b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
    return b;
  };
  const bpp = Math.max(1, (bitDepth * (colorType === 2 ? 3 : 1)) >> 3);
  const filtered: number[] = [];
  rows.forEach((row, y) => {
    const ft = y % 5;
    const up = y > 0 ? rows[y - 1] : new Uint8Array(row.length);
    filtered.push(ft);
    for (let i = 0; i < row.length; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = up[i];
      const c = i >= bpp ? up[i - bpp] : 0;
      const p = a + b - c;
      const pred = [0, a, b, (a + b) >> 1, Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c][ft];
      filtered.push((row[i] - pred) & 255);
    }
  });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const parts = [sig, chunk('IHDR', ihdr)];
  if (plte) parts.push(chunk('PLTE', plte));
  parts.push(chunk('IDAT', deflateSync(Buffer.from(filtered))), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

describe('decodeLabelPng', () => {
  test('8-bit grayscale with every filter type: values as stored, and pngjs agrees', () => {
    const w = 13;
    const h = 10;
    const rows = Array.from({ length: h }, (_, y) => Uint8Array.from({ length: w }, (_, x) => (x * 37 + y * 91 + ((x * y) % 7)) & 255));
    const buf = buildPng(w, h, 0, 8, rows);
    const got = decodeLabelPng(buf, 'gray.png');
    expect(got.width).toBe(w);
    expect(Array.from(got.data)).toEqual(rows.flatMap((r) => Array.from(r)));
    const ref = PNG.sync.read(buf); // RGBA, channel 0 = gray value
    expect(Array.from(got.data)).toEqual(Array.from({ length: w * h }, (_, i) => ref.data[i * 4]));
  });

  test('8-bit palette: indices, not colours (colours match pngjs through the PLTE)', () => {
    const w = 11;
    const h = 7;
    const plte = Uint8Array.from({ length: 20 * 3 }, (_, i) => (i * 53 + 7) & 255);
    const rows = Array.from({ length: h }, (_, y) => Uint8Array.from({ length: w }, (_, x) => (x * 3 + y * 5) % 20));
    const buf = buildPng(w, h, 3, 8, rows, plte);
    const got = decodeLabelPng(buf, 'pal.png');
    const idx = rows.flatMap((r) => Array.from(r));
    expect(Array.from(got.data)).toEqual(idx);
    const ref = PNG.sync.read(buf);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) expect(ref.data[i * 4 + c]).toBe(plte[idx[i] * 3 + c]);
  });

  test('4-bit palette indices are unpacked (odd width)', () => {
    const w = 5;
    const h = 3;
    const vals = [
      [0, 1, 2, 3, 15],
      [4, 5, 6, 7, 8],
      [9, 10, 11, 12, 13],
    ];
    const rows = vals.map((r) => Uint8Array.from([(r[0] << 4) | r[1], (r[2] << 4) | r[3], r[4] << 4]));
    const plte = new Uint8Array(16 * 3);
    const got = decodeLabelPng(buildPng(w, h, 3, 4, rows, plte), 'pal4.png');
    expect(Array.from(got.data)).toEqual(vals.flat());
  });

  test('palette PNG written by sharp (libspng, its own filters): index -> PLTE colour equals the RGB decode', async () => {
    const w = 40;
    const h = 30;
    const rgb = new Uint8Array(w * h * 3);
    const cols = [[255, 0, 0], [0, 200, 0], [10, 20, 250], [250, 250, 0]];
    for (let i = 0; i < w * h; i++) rgb.set(cols[((i % w) >> 3) % 4 ^ (Math.floor(i / w) >> 3) % 2], i * 3);
    const buf = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png({ palette: true, colours: 4, dither: 0 }).toBuffer();
    const { decodePngSamples } = await import('../../src/data/png.js');
    const png = decodePngSamples(buf);
    expect(png.colorType).toBe(3);
    const { data } = await sharp(buf).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const lab = decodeLabelPng(buf);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) expect(png.palette![lab.data[i] * 3 + c]).toBe(data[i * 3 + c]);
    expect(new Set(lab.data).size).toBe(4);
  });

  test('rejects 16-bit, RGB, truncated and non-PNG files, naming the file', async () => {
    const g16 = await sharp(new Uint8Array(16), { raw: { width: 4, height: 4, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    expect(() => decodeLabelPng(g16, 'deep.png')).toThrow(/deep\.png: 16-bit PNG/);
    const rgb = await sharp(new Uint8Array(48), { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer();
    expect(() => decodeLabelPng(rgb, 'rgb.png')).toThrow(/rgb\.png: label PNG is RGB/);
    const good = buildPng(4, 4, 0, 8, Array.from({ length: 4 }, () => new Uint8Array(4)));
    expect(() => decodeLabelPng(good.subarray(0, good.length - 20), 'cut.png')).toThrow(/cut\.png: (truncated|corrupt)/);
    const bad = join(dir, 'notpng.png');
    writeFileSync(bad, 'hello');
    await expect(readLabelPng(bad)).rejects.toThrow(/notpng\.png: not a PNG/);
    await expect(readLabelPng(join(dir, 'missing.png'))).rejects.toThrow(/missing\.png: cannot read/);
  });
});

describe('reduceZeroLabel and writers', () => {
  test('reduceZeroLabel on the full uint8 range', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const r = reduceZeroLabel(all);
    expect(r[0]).toBe(255);
    expect(r[1]).toBe(0);
    expect(r[151]).toBe(150);
    expect(r[254]).toBe(253);
    expect(r[255]).toBe(255);
    expect(all[0]).toBe(0); // input untouched
  });

  test('writeLabelPng round trip is a 1-channel 8-bit PNG (sharp metadata)', async () => {
    const data = Uint8Array.from({ length: 6 * 5 }, (_, i) => (i * 41) & 255);
    const f = join(dir, 'sub', 'pred.png');
    await writeLabelPng(f, data, 6, 5);
    const meta = await sharp(f).metadata();
    expect([meta.channels, meta.depth, meta.width, meta.height]).toEqual([1, 'uchar', 6, 5]);
    expect(Array.from((await readLabelPng(f)).data)).toEqual(Array.from(data));
  });

  test('overlay blends palette colours, leaves ignored pixels', async () => {
    const image = { data: Uint8Array.from([100, 100, 100, 0, 0, 0]), width: 2, height: 1 };
    const label = { data: Uint8Array.from([1, 255]), width: 2, height: 1 };
    const out = overlay(image, label, [[0, 0, 0], [200, 50, 0]], { alpha: 0.5 });
    expect(Array.from(out)).toEqual([150, 75, 50, 0, 0, 0]);
    const f = join(dir, 'ov.png');
    await writeOverlayPng(f, image, label, [[0, 0, 0], [200, 50, 0]]);
    const { data, info } = await sharp(f).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    expect(Array.from(data)).toEqual([150, 75, 50, 0, 0, 0]);
  });
});
