import { describe, expect, test, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { scanImageFolder } from '../../src/data/imagenet.js';
import { decodeImage } from '../../src/data/image.js';

const here = dirname(fileURLToPath(import.meta.url));
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mff-scan-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function touch(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '');
}

describe('scanImageFolder (folder layout)', () => {
  test('sorted class folders give labels; files recursive, sorted, extension filter case-insensitive', () => {
    const root = join(dir, 'a');
    for (const f of ['zebra/2.jpg', 'zebra/10.JPEG', 'zebra/sub/1.png', 'zebra/notes.txt', 'Ant/x.webp', 'bee/y.TIFF', 'bee/z.bmp']) {
      touch(join(root, 'train', f));
    }
    touch(join(root, 'train', 'stray.jpg')); // files beside class folders are not samples (mmpretrain find_folders)
    const ds = scanImageFolder(root, 'train');
    // code-point order: uppercase before lowercase
    expect(ds.classes).toEqual(['Ant', 'bee', 'zebra']);
    expect(ds.records.map((r) => [relative(join(root, 'train'), r.file), r.label])).toEqual([
      ['Ant/x.webp', 0],
      ['bee/y.TIFF', 1],
      ['bee/z.bmp', 1],
      ['zebra/10.JPEG', 2],
      ['zebra/2.jpg', 2],
      ['zebra/sub/1.png', 2],
    ]);
  });

  test('clear errors: missing root, missing split, class folder without images, no classes', () => {
    expect(() => scanImageFolder(join(dir, 'nope'), 'train')).toThrow(/dataset root .*nope does not exist/);
    const root = join(dir, 'b');
    touch(join(root, 'train', 'cat', '1.jpg'));
    expect(() => scanImageFolder(root, 'val')).toThrow(/split 'val' directory .*b[\\/]val does not exist/);
    touch(join(root, 'train', 'dog', 'readme.txt'));
    expect(() => scanImageFolder(root, 'train')).toThrow(/class folder .*train[\\/]dog has no images/);
    mkdirSync(join(root, 'empty'), { recursive: true });
    expect(() => scanImageFolder(root, 'empty')).toThrow(/no class folders/);
  });

  test('class count must match given classes', () => {
    const root = join(dir, 'c');
    touch(join(root, 'train', 'cat', '1.jpg'));
    expect(() => scanImageFolder(root, 'train', { classes: ['a', 'b'] })).toThrow(/1 class folders but 2 classes/);
    expect(scanImageFolder(root, 'train', { classes: ['kitty'] }).classes).toEqual(['kitty']);
  });
});

describe('scanImageFolder (annotation file)', () => {
  test('lines "path label", split at the last space, paths relative to <root>/<split>', () => {
    const root = join(dir, 'ann');
    mkdirSync(join(root, 'val'), { recursive: true });
    writeFileSync(join(root, 'meta.txt'), 'ILSVRC2012_val_00000001.JPEG 65\r\nsub dir/with space.jpg 3\n\n');
    const ds = scanImageFolder(root, 'val', { annFile: 'meta.txt' });
    expect(ds.records).toEqual([
      { file: join(resolve(root), 'val', 'ILSVRC2012_val_00000001.JPEG'), label: 65 },
      { file: join(resolve(root), 'val', 'sub dir', 'with space.jpg'), label: 3 },
    ]);
    expect(ds.classes.length).toBe(66);
  });

  test('a bad line is reported as file:line; labels beyond classes are rejected; empty file', () => {
    const root = join(dir, 'ann2');
    mkdirSync(join(root, 'val'), { recursive: true });
    writeFileSync(join(root, 'bad.txt'), 'a.jpg 1\nb.jpg one\n');
    expect(() => scanImageFolder(root, 'val', { annFile: 'bad.txt' })).toThrow(/bad\.txt:2: expected '<relative\/path> <label>', got 'b\.jpg one'/);
    writeFileSync(join(root, 'nolabel.txt'), 'a.jpg\n');
    expect(() => scanImageFolder(root, 'val', { annFile: 'nolabel.txt' })).toThrow(/nolabel\.txt:1:/);
    writeFileSync(join(root, 'big.txt'), 'a.jpg 5\n');
    expect(() => scanImageFolder(root, 'val', { annFile: 'big.txt', classes: ['x', 'y'] })).toThrow(/label 5 is out of range for 2 classes/);
    writeFileSync(join(root, 'empty.txt'), '\n');
    expect(() => scanImageFolder(root, 'val', { annFile: 'empty.txt' })).toThrow(/lists no images/);
    expect(() => scanImageFolder(root, 'val', { annFile: 'missing.txt' })).toThrow(/missing\.txt does not exist/);
  });
});

describe('bundled Fashion-MNIST mini', () => {
  const root = resolve(here, '../../datasets/fashion-mnist-mini');
  const names = ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle_boot'];

  test('10 classes x 100 train and x 20 val images, labels from sorted names', () => {
    const train = scanImageFolder(root, 'train');
    expect(train.classes).toEqual([...names].sort());
    expect(train.records.length).toBe(1000);
    for (let c = 0; c < 10; c++) expect(train.records.filter((r) => r.label === c).length).toBe(100);
    const val = scanImageFolder(root, 'val');
    expect(val.records.length).toBe(200);
    for (let c = 0; c < 10; c++) expect(val.records.filter((r) => r.label === c).length).toBe(20);
  });

  const idx = '/usr/share/datasets/fashion-mnist';
  test.skipIf(!existsSync(idx))('PNG pixels equal the IDX source; files are the first 100 of each class', async () => {
    const images = gunzipSync(readFileSync(join(idx, 'train-images-idx3-ubyte.gz')));
    const labels = gunzipSync(readFileSync(join(idx, 'train-labels-idx1-ubyte.gz')));
    // IDX headers: images 16 bytes (magic, n, 28, 28), labels 8 bytes (magic, n)
    const firstOf = (cls: number, k: number): number[] => {
      const out: number[] = [];
      for (let i = 0; out.length < k; i++) if (labels[8 + i] === cls) out.push(i);
      return out;
    };
    const bag = firstOf(names.indexOf('Bag'), 100);
    const train = scanImageFolder(root, 'train');
    const bagFiles = train.records.filter((r) => train.classes[r.label] === 'Bag').map((r) => r.file);
    expect(bagFiles.map((f) => Number(f.slice(-9, -4)))).toEqual(bag);
    const i = bag[7];
    const png = PNG.sync.read(readFileSync(bagFiles[7]));
    expect([png.width, png.height]).toEqual([28, 28]);
    const want = images.subarray(16 + i * 784, 16 + (i + 1) * 784);
    expect(Array.from({ length: 784 }, (_, p) => png.data[p * 4])).toEqual(Array.from(want));
    const rgb = await decodeImage(bagFiles[7]);
    expect(Array.from({ length: 784 }, (_, p) => rgb.data[p * 3 + 1])).toEqual(Array.from(want));
  });
});
