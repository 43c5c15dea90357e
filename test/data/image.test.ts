import { describe, expect, test, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { PNG } from 'pngjs';
import { decodeImage } from '../../src/data/image.js';
import { pngChunk } from '../../src/data/png.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mff-image-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A PNG written by pngjs (independent of sharp): colorType 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA. */
function writePng(name: string, w: number, h: number, colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16, values: number[]): string {
  const hasAlpha = colorType === 4 || colorType === 6;
  const opts = { width: w, height: h, colorType, inputColorType: colorType, bitDepth, inputHasAlpha: hasAlpha };
  const png = new PNG(opts as ConstructorParameters<typeof PNG>[0]);
  png.data = bitDepth === 16 ? Buffer.from(new Uint16Array(values).buffer) : Buffer.from(values);
  const file = join(dir, name);
  writeFileSync(file, PNG.sync.write(png, opts as Parameters<typeof PNG.sync.write>[1]));
  return file;
}

describe('decodeImage', () => {
  test('8-bit grayscale is replicated to RGB', async () => {
    const img = await decodeImage(writePng('g8.png', 3, 2, 0, 8, [0, 100, 255, 7, 8, 9]));
    expect([img.width, img.height]).toEqual([3, 2]);
    expect(Array.from(img.data)).toEqual([0, 0, 0, 100, 100, 100, 255, 255, 255, 7, 7, 7, 8, 8, 8, 9, 9, 9]);
  });

  test('alpha is dropped (as cv2 IMREAD_COLOR), or flattened on request', async () => {
    const rgba = writePng('rgba.png', 2, 1, 6, 8, [10, 20, 30, 128, 40, 50, 60, 0]);
    expect(Array.from((await decodeImage(rgba)).data)).toEqual([10, 20, 30, 40, 50, 60]);
    const ga = writePng('ga.png', 2, 1, 4, 8, [10, 255, 40, 0]);
    expect(Array.from((await decodeImage(ga)).data)).toEqual([10, 10, 10, 40, 40, 40]);
    // fully transparent pixel over white -> white; opaque pixel unchanged
    const flat = await decodeImage(ga, { alpha: 'flatten', background: [255, 255, 255] });
    expect(Array.from(flat.data)).toEqual([10, 10, 10, 255, 255, 255]);
  });

  test('16-bit samples keep their high byte (libpng strip_16, as cv2)', async () => {
    const v = [0, 65535, 32768, 25607, 1000, 51400];
    const img = await decodeImage(writePng('rgb16.png', 2, 1, 2, 16, v));
    expect(Array.from(img.data)).toEqual(v.map((x) => x >> 8));
    const g = await decodeImage(writePng('g16.png', 2, 1, 0, 16, [25607, 51400]));
    expect(Array.from(g.data)).toEqual([100, 100, 100, 200, 200, 200]);
  });

  test('EXIF orientation is applied', async () => {
    // 16x8: left half red, right half blue; orientation 6 = rotate 90° clockwise -> 8x16, red on top
    const w = 16;
    const h = 8;
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(x < 8 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
    const file = join(dir, 'exif6.jpg');
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toFile(file);
    expect((await sharp(file).metadata()).orientation).toBe(6);
    const img = await decodeImage(file);
    expect([img.width, img.height]).toEqual([8, 16]);
    const px = (x: number, y: number) => Array.from(img.data.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3));
    const top = px(4, 2);
    const bottom = px(4, 13);
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(50);
    expect(bottom[2]).toBeGreaterThan(200);
    expect(bottom[0]).toBeLessThan(50);
  });

  test('CMYK JPEG comes back as 3-channel RGB with the right hue', async () => {
    const file = join(dir, 'cmyk.jpg');
    const raw = Buffer.alloc(8 * 8 * 3);
    for (let i = 0; i < 64; i++) raw.set([220, 30, 30], i * 3);
    await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 100 }).toFile(file);
    expect((await sharp(file).metadata()).space).toBe('cmyk');
    const img = await decodeImage(file);
    expect(img.data.length).toBe(8 * 8 * 3);
    const [r, g, b] = img.data;
    expect(r).toBeGreaterThan(150);
    expect(g).toBeLessThan(80);
    expect(b).toBeLessThan(80);
  });

  test('a corrupt or truncated file fails with its path and the reason', async () => {
    const bad = join(dir, 'bad.jpg');
    writeFileSync(bad, 'definitely not an image');
    await expect(decodeImage(bad)).rejects.toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot decode image \\(.+\\)`));
    const full = await sharp(Buffer.alloc(64 * 64 * 3, 128), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const trunc = join(dir, 'trunc.jpg');
    writeFileSync(trunc, full.subarray(0, full.length >> 1));
    await expect(decodeImage(trunc)).rejects.toThrow(trunc);
    await expect(decodeImage(join(dir, 'missing.png'))).rejects.toThrow(join(dir, 'missing.png'));
  });

  test('PNG variants: the JS fast path gives the bytes sharp gives (gray, gray+alpha, RGB, RGBA, palette 8/4-bit, tRNS, 1-bit, interlaced, 16-bit, gAMA, truncated)', async () => {
    const [w, h] = [37, 23];
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24);
    const rgba = Buffer.from(Array.from({ length: w * h * 4 }, rnd));
    const raw = (channels: 1 | 2 | 3 | 4) => sharp(Buffer.from(Array.from({ length: w * h * channels }, rnd)), { raw: { width: w, height: h, channels } });
    const files: [string, Buffer][] = [
      ['gray', readFileSync(writePng('v-g.png', w, h, 0, 8, Array.from({ length: w * h }, rnd)))],
      ['gray-alpha', readFileSync(writePng('v-ga.png', w, h, 4, 8, Array.from({ length: w * h * 2 }, rnd)))],
      ['gray-sharp', await raw(1).toColourspace('b-w').png().toBuffer()],
      ['rgb', await raw(3).png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer()],
      ['rgba', await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer()],
      ['palette8', await raw(3).png({ palette: true, colours: 200, dither: 0 }).toBuffer()],
      ['palette4', await raw(3).png({ palette: true, colours: 16, dither: 0 }).toBuffer()],
      ['palette-trns', await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png({ palette: true, colours: 64 }).toBuffer()],
      ['gray1', await raw(1).threshold(128).toColourspace('b-w').png({ colours: 2 }).toBuffer()],
      ['interlaced', await raw(3).png({ progressive: true }).toBuffer()],
      ['gray16', await raw(1).toColourspace('grey16').png().toBuffer()],
    ];
    // a gAMA chunk (colour management: sharp's call) spliced in after IHDR
    const rgbPng = files[3][1];
    const gama = pngChunk('gAMA', Uint8Array.of(0, 0, 0xb1, 0x8f)); // gamma 45455 / 100000
    files.push(['gamma', Buffer.concat([rgbPng.subarray(0, 33), gama, rgbPng.subarray(33)])]);
    for (const [name, buf] of files) {
      const file = join(dir, `variant-${name}.png`);
      writeFileSync(file, buf);
      const want = await decodeImage(file, { decoder: 'sharp' });
      const got = await decodeImage(file);
      expect([got.width, got.height], name).toEqual([want.width, want.height]);
      expect(Buffer.from(got.data).equals(Buffer.from(want.data)), name).toBe(true);
    }
    const trunc = join(dir, 'variant-trunc.png');
    writeFileSync(trunc, rgbPng.subarray(0, rgbPng.length - 40));
    await expect(decodeImage(trunc)).rejects.toThrow(/variant-trunc\.png: cannot decode image/);
  });
});
