/**
 * Concurrent, deterministic batch loader: decode + augment with bounded concurrency, batches prefetched ahead.
 *
 * Determinism: the epoch order is a permutation drawn from Rng(seed, epoch); sample at position i of the epoch
 * is augmented with Rng(seed, epoch, i). Nothing depends on which task finishes first, so the batches are the
 * same for any `concurrency`/`prefetch`, and `batches(epoch, startIter)` resumes mid-epoch exactly.
 */
import pLimit from 'p-limit';
import { Rng } from '../io/rng.js';
import { decodeImage, type RgbImage } from './image.js';
import type { ImageFolderDataset, ImageRecord } from './imagenet.js';
import type { BadFiles } from './bad-files.js';

export type Transform = (img: RgbImage, rng: Rng) => Promise<Float32Array>;

export type BatchLoaderOptions = {
  dataset: ImageFolderDataset;
  batchSize: number;
  transform: Transform;
  seed: number;
  shuffle: boolean;
  dropLast: boolean;
  /** decode+transform tasks in flight */
  concurrency: number;
  /** batches loaded ahead of the consumer */
  prefetch: number;
  /** image reader; default `decodeImage` */
  decode?: (file: string) => Promise<RgbImage>;
  /**
   * Files that fail to load: strict (default) rethrows; skipping records them and, with dropLast (training), puts
   * the next image of the epoch order in their place (same augmentation stream, so batches stay deterministic),
   * without dropLast (evaluation) leaves them out of the batch.
   */
  bad?: BadFiles;
};

export interface Batch {
  /** [B, H, W, 3] NHWC, normalised */
  images: Float32Array;
  labels: Int32Array;
  files: string[];
  epoch: number;
  iter: number;
  /** H = W of each image, and the batch size B (the last batch may be short when dropLast is false) */
  size: number;
  batchSize: number;
}

export interface LoaderStats {
  /** images decoded and transformed */
  images: number;
  /** wall-clock seconds with at least one load task running (loader throughput = images / seconds) */
  seconds: number;
  /** seconds the consumer spent waiting for a batch (input-pipeline stall) */
  waitSeconds: number;
}

/** fmix32 (MurmurHash3 finaliser) chained over the parts: a well-mixed 32-bit seed from several integers. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    if (!Number.isSafeInteger(p)) throw new Error(`deriveSeed: expected integers, got ${p}`);
    h ^= p >>> 0;
    h = fmix32(h);
    h ^= Math.floor(p / 4294967296) >>> 0; // high bits of large seeds
    h = fmix32(h + 0x9e3779b9);
  }
  return h >>> 0;
}

function fmix32(h: number): number {
  h >>>= 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const SHUFFLE = 1;
const AUGMENT = 2;

export class BatchLoader {
  private readonly opts: BatchLoaderOptions;
  private readonly decode: (file: string) => Promise<RgbImage>;
  private nImages = 0;
  private loadMs = 0;
  private waitMs = 0;
  private active = 0;
  private busySince = 0;

  constructor(opts: BatchLoaderOptions) {
    const { batchSize, concurrency, prefetch, dataset } = opts;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`BatchLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(concurrency) || concurrency <= 0) throw new Error(`BatchLoader: concurrency must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new Error(`BatchLoader: prefetch must be a non-negative integer, got ${prefetch}`);
    if (dataset.records.length === 0) throw new Error(`BatchLoader: dataset ${dataset.root}/${dataset.split} is empty`);
    this.opts = opts;
    this.decode = opts.decode ?? decodeImage;
    if (this.iterationsPerEpoch() === 0) {
      throw new Error(`BatchLoader: ${dataset.records.length} images < batchSize ${batchSize} with dropLast: no full batch`);
    }
  }

  get length(): number {
    return this.opts.dataset.records.length;
  }

  iterationsPerEpoch(): number {
    const n = this.length;
    const b = this.opts.batchSize;
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** Dataset indices in epoch order. */
  epochOrder(epoch: number): Int32Array {
    if (!this.opts.shuffle) return Int32Array.from({ length: this.length }, (_, i) => i);
    return new Rng(deriveSeed(this.opts.seed, SHUFFLE, epoch)).permutation(this.length);
  }

  stats(): LoaderStats {
    const running = this.active > 0 ? performance.now() - this.busySince : 0;
    return { images: this.nImages, seconds: (this.loadMs + running) / 1000, waitSeconds: this.waitMs / 1000 };
  }

  resetStats(): void {
    this.nImages = 0;
    this.loadMs = 0;
    this.waitMs = 0;
    if (this.active > 0) this.busySince = performance.now();
  }

  /** The batches of one epoch from iteration `startIter` on. Breaking out of the loop stops loading. */
  async *batches(epoch: number, startIter = 0): AsyncGenerator<Batch> {
    const iters = this.iterationsPerEpoch();
    if (!Number.isInteger(startIter) || startIter < 0 || startIter > iters) {
      throw new Error(`BatchLoader: startIter ${startIter} is outside 0..${iters}`);
    }
    const order = this.epochOrder(epoch);
    const limit = pLimit(this.opts.concurrency);
    const state = { stopped: false };
    const queue: Promise<Batch | null>[] = [];
    let next = startIter;
    const fill = () => {
      while (next < iters && queue.length <= this.opts.prefetch) {
        const p = this.loadBatch(epoch, next++, order, limit, state);
        p.catch(() => {}); // rejections are rethrown when this batch is awaited; avoid unhandled ones meanwhile
        queue.push(p);
      }
    };
    try {
      fill();
      while (queue.length > 0) {
        const t0 = performance.now();
        const batch = await queue.shift()!;
        this.waitMs += performance.now() - t0;
        fill();
        if (batch) yield batch; // null: every image of an evaluation batch was skipped
      }
    } finally {
      state.stopped = true;
      limit.clearQueue();
    }
  }

  private async loadBatch(epoch: number, iter: number, order: Int32Array, limit: ReturnType<typeof pLimit>, state: { stopped: boolean }): Promise<Batch | null> {
    const { batchSize } = this.opts;
    const start = iter * batchSize;
    const end = Math.min(start + batchSize, order.length);
    const positions = Array.from({ length: end - start }, (_, k) => start + k);
    const loaded = await Promise.all(positions.map((pos) => limit(() => this.loadSample(epoch, pos, order, state))));
    const samples = loaded.filter((s): s is { out: Float32Array; rec: ImageRecord } => s !== null);
    if (samples.length === 0) return null;
    const B = samples.length;
    const per = samples[0].out.length;
    const size = Math.round(Math.sqrt(per / 3));
    const images = new Float32Array(B * per);
    const labels = new Int32Array(B);
    const files: string[] = [];
    samples.forEach(({ out, rec }, k) => {
      if (out.length !== per) {
        throw new Error(`${rec.file}: transform produced ${out.length} values, other images in the batch ${per}`);
      }
      images.set(out, k * per);
      labels[k] = rec.label;
      files.push(rec.file);
    });
    if (size * size * 3 !== per) throw new Error(`BatchLoader: transform output of ${per} values is not a square HxWx3 image`);
    return { images, labels, files, epoch, iter, size, batchSize: B };
  }

  /** The sample at epoch position `pos` (or, skipping a bad file in training, the next good one in epoch order). */
  private async loadSample(epoch: number, pos: number, order: Int32Array, state: { stopped: boolean }): Promise<{ out: Float32Array; rec: ImageRecord } | null> {
    const { bad, dropLast, dataset } = this.opts;
    const n = order.length;
    for (let t = 0; t < n; t++) {
      const rec = dataset.records[order[(pos + t) % n]];
      if (bad?.has(rec.file)) {
        if (!dropLast) return null;
        continue;
      }
      try {
        return { out: await this.transformOne(rec, epoch, pos, state), rec };
      } catch (err) {
        if (state.stopped || !bad) throw err;
        bad.handle(rec.file, err);
        if (!dropLast) return null;
      }
    }
    throw new Error(`${dataset.root}/${dataset.split}: every image failed to load (${bad?.count ?? 0} bad files)`);
  }

  private async transformOne(rec: ImageRecord, epoch: number, pos: number, state: { stopped: boolean }): Promise<Float32Array> {
    if (state.stopped) throw new Error('BatchLoader: iteration stopped');
    if (this.active++ === 0) this.busySince = performance.now();
    try {
      const img = await this.decode(rec.file);
      const rng = new Rng(deriveSeed(this.opts.seed, AUGMENT, epoch, pos));
      let out: Float32Array;
      try {
        out = await this.opts.transform(img, rng);
      } catch (err) {
        throw new Error(`${rec.file}: transform failed (${err instanceof Error ? err.message : String(err)})`, { cause: err });
      }
      this.nImages++;
      return out;
    } finally {
      if (--this.active === 0) this.loadMs += performance.now() - this.busySince;
    }
  }
}
