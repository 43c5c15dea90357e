/** ADE20K-layout scan, meta.json, and the load-time checks (missing annotation, size mismatch, bad label values). */
import { tempDir } from '../engine/temp-dirs.js';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { ADE20K_META, loadSegLabel, loadSegMeta, loadSegPair, scanSegDataset } from '../../src/data/seg/ade20k.js';
import { writeLabelPng } from '../../src/data/seg/labels.js';

async function jpg(file: string, w: number, h: number): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: 10, g: 120, b: 200 } } }).jpeg().toFile(file);
}

describe('ADE20K METAINFO', () => {
  test('150 classes and palette entries as in mmseg ade.py', () => {
    expect(ADE20K_META.classes).toHaveLength(150);
    expect(ADE20K_META.palette).toHaveLength(150);
    expect(ADE20K_META.classes[0]).toBe('wall');
    expect(ADE20K_META.classes[7]).toBe('bed '); // trailing space, as upstream
    expect(ADE20K_META.classes[149]).toBe('flag');
    expect(ADE20K_META.palette[0]).toEqual([120, 120, 120]);
    expect(ADE20K_META.palette[7]).toEqual([204, 5, 255]);
    expect(ADE20K_META.palette[149]).toEqual([92, 0, 255]);
    expect(ADE20K_META.reduceZeroLabel).toBe(true);
  });
});

describe('scanSegDataset', () => {
  test('pairs by relative path, sorted; ADE20K meta without meta.json', async () => {
    const root = tempDir('ade-');
    for (const name of ['b', 'a', 'sub/c']) {
      await jpg(join(root, 'images/training', `${name}.jpg`), 8, 6);
      await writeLabelPng(join(root, 'annotations/training', `${name}.png`), new Uint8Array(48).fill(1), 8, 6);
    }
    writeFileSync(join(root, 'images/training/notes.txt'), 'x');
    const ds = await scanSegDataset(root, 'training');
    expect(ds.meta).toBe(ADE20K_META);
    expect(ds.samples.map((s) => s.img.slice(root.length))).toEqual(['/images/training/a.jpg', '/images/training/b.jpg', '/images/training/sub/c.jpg']);
    expect(ds.samples[2].ann).toBe(join(root, 'annotations/training/sub/c.png'));
    const pair = await loadSegPair(ds.samples[0], ds.meta);
    expect([pair.image.width, pair.image.height, pair.label.width]).toEqual([8, 6, 8]);
    expect(pair.label.data[0]).toBe(0); // 1 -> 0 after reduce_zero_label

    rmSync(ds.samples[1].ann);
    await expect(scanSegDataset(root, 'training')).rejects.toThrow(/b\.jpg: missing annotation .*annotations\/training\/b\.png/);
    await expect(scanSegDataset(root, 'validation')).rejects.toThrow(/images\/validation: dataset directory not found/);
  });

  test('size mismatch and out-of-range labels name the file and the value', async () => {
    const root = tempDir('ade-bad-');
    await jpg(join(root, 'images/validation/x.jpg'), 8, 6);
    await writeLabelPng(join(root, 'annotations/validation/x.png'), new Uint8Array(7 * 6).fill(3), 7, 6);
    const ds = await scanSegDataset(root, 'validation');
    await expect(loadSegPair(ds.samples[0], ds.meta)).rejects.toThrow(/x\.png: annotation is 7x6 but image .*x\.jpg is 8x6/);

    const lab = new Uint8Array(12).fill(5);
    lab[7] = 152; // -> 151 after reduction, >= 150 classes
    const f = join(root, 'y.png');
    await writeLabelPng(f, lab, 4, 3);
    await expect(loadSegLabel(f, ADE20K_META)).rejects.toThrow(/y\.png: label value 151 \(stored value 152, after reduce_zero_label=true\) at \(x=3, y=1\)/);
    lab[7] = 0; // -> 255 = ignore: fine
    await writeLabelPng(f, lab, 4, 3);
    expect((await loadSegLabel(f, ADE20K_META)).data[7]).toBe(255);
  });

  test('meta.json: custom classes, suffixes and validation errors', async () => {
    const root = tempDir('meta-');
    const meta = { classes: ['bg', 'thing'], palette: [[0, 0, 0], [255, 0, 0]], reduce_zero_label: false, img_suffix: '.png' };
    writeFileSync(join(root, 'meta.json'), JSON.stringify(meta));
    const m = await loadSegMeta(root);
    expect(m).toMatchObject({ classes: ['bg', 'thing'], reduceZeroLabel: false, imgSuffix: '.png', segMapSuffix: '.png' });
    writeFileSync(join(root, 'meta.json'), JSON.stringify({ ...meta, palette: [[0, 0, 0]] }));
    await expect(loadSegMeta(root)).rejects.toThrow(/meta\.json: 'palette' must have one \[r, g, b\] per class \(2\), got 1/);
    writeFileSync(join(root, 'meta.json'), '{oops');
    await expect(loadSegMeta(root)).rejects.toThrow(/meta\.json: cannot parse/);
  });
});
