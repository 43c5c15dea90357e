/**
 * Build datasets/fashion-mnist-mini from the Fashion-MNIST IDX files (Debian package dataset-fashion-mnist).
 *
 *   npx tsx datasets/fashion-mnist/prepare.ts [--src /usr/share/datasets/fashion-mnist] [--out datasets/fashion-mnist-mini]
 *       [--train-per-class 100] [--val-per-class 20]
 *
 * Writes <out>/{train,val}/<class>/<index>.png (28x28 8-bit grayscale): the first 100 images of each class
 * from the training file and the first 20 of each class from the t10k file (`--train-per-class 6000
 * --val-per-class 1000` exports the whole of Fashion-MNIST, 60k + 10k, e.g. for a longer pretraining). <index> is the image's index
 * in its IDX file, zero-padded so that name order is file order.
 */
import { gunzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const CLASSES = ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle_boot'];

const here = dirname(fileURLToPath(import.meta.url));

/** Parse a gzipped IDX file: magic 0x0000 08 <ndim>, big-endian uint32 dims, then uint8 data. */
export function readIdx(file: string): { dims: number[]; data: Uint8Array } {
  const buf = gunzipSync(readFileSync(file));
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08) {
    throw new Error(`${file}: not an unsigned-byte IDX file (magic ${buf.subarray(0, 4).toString('hex')})`);
  }
  const ndim = buf[3];
  const dims = Array.from({ length: ndim }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const offset = 4 + 4 * ndim;
  const count = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== offset + count) throw new Error(`${file}: ${buf.length - offset} data bytes, header says ${count}`);
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + offset, count) };
}

async function writeSplit(src: string, prefix: string, perClass: number, outDir: string): Promise<number> {
  const images = readIdx(join(src, `${prefix}-images-idx3-ubyte.gz`));
  const labels = readIdx(join(src, `${prefix}-labels-idx1-ubyte.gz`));
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) throw new Error(`${src}/${prefix}: ${n} images but ${labels.dims[0]} labels`);
  const taken = new Array(CLASSES.length).fill(0);
  let written = 0;
  for (let i = 0; i < n && written < perClass * CLASSES.length; i++) {
    const label = labels.data[i];
    if (label >= CLASSES.length) throw new Error(`${src}/${prefix}: label ${label} at index ${i} is out of range`);
    if (taken[label] >= perClass) continue;
    taken[label]++;
    written++;
    const dir = join(outDir, CLASSES[label]);
    mkdirSync(dir, { recursive: true });
    const pixels = Buffer.from(images.data.subarray(i * h * w, (i + 1) * h * w));
    await sharp(pixels, { raw: { width: w, height: h, channels: 1 } })
      .toColourspace('b-w')
      .png({ compressionLevel: 9 })
      .toFile(join(dir, `${String(i).padStart(5, '0')}.png`));
  }
  const short = taken.findIndex((t) => t < perClass);
  if (short >= 0) throw new Error(`${src}/${prefix}: only ${taken[short]} images of class ${CLASSES[short]}`);
  return written;
}

/** Export `trainPerClass` / `valPerClass` images per class (first ones in file order) to <out>/{train,val}/<class>/. */
export async function prepareFashionMnist(src: string, out: string, trainPerClass: number, valPerClass: number): Promise<{ train: number; val: number }> {
  for (const split of ['train', 'val']) rmSync(join(out, split), { recursive: true, force: true });
  const train = await writeSplit(src, 'train', trainPerClass, join(out, 'train'));
  const val = await writeSplit(src, 't10k', valPerClass, join(out, 'val'));
  return { train, val };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
  };
  const src = arg('--src', '/usr/share/datasets/fashion-mnist');
  const out = resolve(arg('--out', join(here, '..', 'fashion-mnist-mini')));
  const count = (name: string, dflt: number) => {
    const v = Number(arg(name, String(dflt)));
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got '${arg(name, '')}'`);
    return v;
  };
  const n = await prepareFashionMnist(src, out, count('--train-per-class', 100), count('--val-per-class', 20));
  console.log(`wrote ${n.train} train + ${n.val} val images to ${out}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
