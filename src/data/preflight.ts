/**
 * The pre-flight of a data-reading command, run before the first training / evaluation step: every image (a
 * sample of MAX_CHECKED when there are more) must exist, be non-empty, have an image header sharp reads, stay under
 * the decompression-bomb limit, and (segmentation) have an annotation PNG of the same size. Headers only: a file
 * cut short after its header still decodes here and is caught when loaded. Checks run in parallel.
 */
import { open, stat } from 'node:fs/promises';
import pLimit from 'p-limit';
import sharp, { type Metadata } from 'sharp';
import type { BadFiles } from './bad-files.js';
import type { ImageFolderDataset } from './imagenet.js';
import type { SegDataset } from './seg/ade20k.js';
import { checkPixels } from './limits.js';

export { checkPixels, DEFAULT_MAX_IMAGE_PIXELS, maxImagePixels } from './limits.js';

/** Files checked at most; above, an evenly spaced sample (the rest is checked as it is loaded). */
export const MAX_CHECKED = 50_000;

async function checkNonEmpty(file: string): Promise<void> {
  const s = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${file}: cannot read (${err.code === 'ENOENT' ? 'file does not exist' : err.message})`);
  });
  if (!s.isFile()) throw new Error(`${file}: not a regular file`);
  if (s.size === 0) throw new Error(`${file}: empty file (0 bytes)`);
}

/** Width and height as decoded (EXIF orientation applied), from the header only. */
export async function imageHeader(file: string): Promise<{ width: number; height: number }> {
  await checkNonEmpty(file);
  let m: Metadata;
  try {
    m = await sharp(file, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new Error(`${file}: cannot decode image (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  if (!m.width || !m.height) throw new Error(`${file}: image header has no size`);
  checkPixels(file, m.width, m.height);
  const rotated = (m.orientation ?? 1) >= 5;
  return rotated ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
}

/** Width and height of a PNG from its IHDR chunk (label maps). */
export async function pngSize(file: string): Promise<{ width: number; height: number }> {
  await checkNonEmpty(file);
  const fh = await open(file, 'r');
  const head = Buffer.alloc(24);
  try {
    await fh.read(head, 0, 24, 0);
  } finally {
    await fh.close();
  }
  if (head.readUInt32BE(0) !== 0x89504e47 || head.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${file}: not a PNG file (bad signature)`);
  const width = head.readUInt32BE(16);
  const height = head.readUInt32BE(20);
  checkPixels(file, width, height);
  return { width, height };
}

/** Every k-th item so that at most `max` are checked. */
function sample<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const step = items.length / max;
  return Array.from({ length: max }, (_, i) => items[Math.floor(i * step)]);
}

/**
 * Run `check` over `items` (at most MAX_CHECKED, `concurrency` at once). Strict: throws the first failure in item
 * order. Skipping: records each failure in `bad`; returns the items that passed (unchecked ones are kept).
 */
export async function preflight<T>(items: T[], check: (item: T) => Promise<void>, o: { bad: BadFiles; fileOf: (item: T) => string; concurrency?: number }): Promise<T[]> {
  const checked = sample(items, MAX_CHECKED);
  const limit = pLimit(o.concurrency ?? 8);
  const failed = new Set<T>();
  let firstError: { index: number; err: unknown } | null = null;
  await Promise.all(
    checked.map((item, index) =>
      limit(async () => {
        if (firstError && !o.bad.skip) return;
        try {
          await check(item);
        } catch (err) {
          if (!o.bad.skip) {
            if (!firstError || index < firstError.index) firstError = { index, err };
            limit.clearQueue();
            return;
          }
          o.bad.handle(o.fileOf(item), err);
          failed.add(item);
        }
      }),
    ),
  );
  const first = firstError as { index: number; err: unknown } | null;
  if (first) throw first.err;
  return failed.size ? items.filter((it) => !failed.has(it)) : items;
}

/** Pre-flight of an image folder dataset; returns it without the skipped files. */
export async function preflightImageFolder(ds: ImageFolderDataset, bad: BadFiles): Promise<ImageFolderDataset> {
  const records = await preflight(ds.records, async (r) => void (await imageHeader(r.file)), { bad, fileOf: (r) => r.file });
  if (records.length === 0) throw new Error(`${ds.root}/${ds.split}: no usable images left after skipping ${bad.count} bad files`);
  return records === ds.records ? ds : { ...ds, records };
}

/** Pre-flight of a segmentation split: image header, annotation header, same size. */
export async function preflightSegDataset(ds: SegDataset, bad: BadFiles): Promise<SegDataset> {
  const samples = await preflight(
    ds.samples,
    async (s) => {
      const [img, ann] = await Promise.all([imageHeader(s.img), pngSize(s.ann)]);
      if (img.width !== ann.width || img.height !== ann.height) {
        throw new Error(`${s.ann}: annotation is ${ann.width}x${ann.height} but image ${s.img} is ${img.width}x${img.height}`);
      }
    },
    { bad, fileOf: (s) => s.img },
  );
  if (samples.length === 0) throw new Error(`${ds.root}/images/${ds.split}: no usable images left after skipping ${bad.count} bad files`);
  return samples === ds.samples ? ds : { ...ds, samples };
}
