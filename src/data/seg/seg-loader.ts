/**
 * Concurrent segmentation loader: decode (sharp) + label load + transforms, at most `concurrency` samples in work
 * and at most `prefetch` samples loaded ahead of the consumer. Every random choice of sample p in epoch e comes
 * from Rng(hash(seed, e, p)), and the epoch order from Rng(hash(seed, e)), so batches are identical whatever the
 * concurrency, and resuming at `startIter` reproduces the rest of the epoch exactly.
 */
import pLimit from 'p-limit';
import { Rng } from '../../io/rng.js';
import { loadSegLabel, loadSegPair, type SegDataset } from './ade20k.js';
import { decodeImage } from '../image.js';
import type { BadFiles } from '../bad-files.js';
import { segTestTransform, segTrainTransform, type SegTrainPipeline } from './seg-transforms.js';

export interface SegBatch {
  /** [B, H, W, 3] normalised */
  images: Float32Array;
  /** [B, H, W], 255 = ignore */
  labels: Uint8Array;
  files: string[];
  batchSize: number;
  height: number;
  width: number;
}

export interface SegEvalSample {
  /** [height, width, 3] normalised, resized keep-ratio to the test scale */
  image: Float32Array;
  height: number;
  width: number;
  /** [origHeight, origWidth] after reduce_zero_label */
  label: Uint8Array;
  origHeight: number;
  origWidth: number;
  file: string;
}

export interface SegLoaderOptions {
  dataset: SegDataset;
  batchSize: number;
  seed: number;
  /** Train pipeline (needed for `batches`). */
  pipeline?: SegTrainPipeline;
  /** Test Resize scale (long, short), mmseg (2048, 512). */
  testScale?: [number, number];
  /** Samples decoded/transformed at once. Default 2. */
  concurrency?: number;
  /** Samples loaded ahead of the consumer (>= concurrency). Default 2 * batchSize. */
  prefetch?: number;
  shuffle?: boolean;
  /**
   * Pairs that fail to load: strict (default) rethrows; skipping records them and puts the next pair of the epoch
   * order in their place in training (same augmentation stream: deterministic), leaves them out in evaluation.
   */
  bad?: BadFiles;
}

export interface LoaderStats {
  samples: number;
  /** Wall time with at least one sample being loaded. */
  loadSeconds: number;
  /** samples / loadSeconds: loader throughput, independent of the consumer. */
  imgPerSec: number;
  /** Time the consumer spent waiting for data. */
  waitSeconds: number;
}

/** Mix integers into a 32-bit seed (murmur3 finaliser over a running hash). */
export function mixSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x9e3779b1);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export class SegLoader {
  private readonly opts: Required<Omit<SegLoaderOptions, 'pipeline' | 'testScale' | 'bad'>> & Pick<SegLoaderOptions, 'pipeline' | 'testScale' | 'bad'>;
  private counters = { samples: 0, loadMs: 0, waitMs: 0, active: 0, activeSince: 0 };

  constructor(opts: SegLoaderOptions) {
    const { concurrency = 2, batchSize, prefetch = 2 * batchSize, shuffle = true } = opts;
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`SegLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new Error(`SegLoader: concurrency must be a positive integer, got ${concurrency}`);
    this.opts = { ...opts, concurrency, prefetch: Math.max(prefetch, concurrency), shuffle };
  }

  /** Full batches per epoch (the last partial batch is dropped). */
  itersPerEpoch(): number {
    return Math.floor(this.opts.dataset.samples.length / this.opts.batchSize);
  }

  /** Sample order of an epoch (a permutation of dataset indices when shuffling). */
  epochOrder(epoch: number): Int32Array {
    const n = this.opts.dataset.samples.length;
    if (!this.opts.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    return new Rng(mixSeed(this.opts.seed, epoch)).permutation(n);
  }

  /** Training batches of `epoch`, starting at iteration `startIter`. */
  async *batches(epoch: number, startIter = 0): AsyncGenerator<SegBatch> {
    const { pipeline, batchSize: B, dataset, seed } = this.opts;
    if (!pipeline) throw new Error('SegLoader.batches: no train pipeline given');
    const order = this.epochOrder(epoch);
    const iters = this.itersPerEpoch();
    const [H, W] = pipeline.cropSize;
    const first = startIter * B;
    const { bad } = this.opts;
    const n = order.length;
    const load = async (pos: number) => {
      for (let t = 0; t < n; t++) {
        const sample = dataset.samples[order[(pos + t) % n]];
        if (bad?.has(sample.img)) continue;
        try {
          const pair = await loadSegPair(sample, dataset.meta);
          return { ...segTrainTransform(pair.image, pair.label, pipeline, new Rng(mixSeed(seed, epoch, pos))), file: sample.img };
        } catch (err) {
          if (!bad) throw err;
          bad.handle(sample.img, err);
        }
      }
      throw new Error(`${dataset.root}/images/${dataset.split}: every image failed to load (${bad?.count ?? 0} bad files)`);
    };
    let batch: SegBatch | null = null;
    let k = 0;
    for await (const s of this.prefetched(first, iters * B, load)) {
      if (!batch) batch = { images: new Float32Array(B * H * W * 3), labels: new Uint8Array(B * H * W), files: [], batchSize: B, height: H, width: W };
      batch.images.set(s.image, k * H * W * 3);
      batch.labels.set(s.label, k * H * W);
      batch.files.push(s.file);
      if (++k === B) {
        const out = batch;
        batch = null;
        k = 0;
        yield out;
      }
    }
  }

  /** Validation samples one at a time, in dataset order. */
  async *evalSamples(): AsyncGenerator<SegEvalSample> {
    const { dataset, testScale = [2048, 512], bad } = this.opts;
    const load = async (pos: number): Promise<SegEvalSample | null> => {
      const sample = dataset.samples[pos];
      try {
        const [img, label] = await Promise.all([decodeImage(sample.img), loadSegLabel(sample.ann, dataset.meta)]);
        if (img.width !== label.width || img.height !== label.height) {
          throw new Error(`${sample.ann}: annotation is ${label.width}x${label.height} but image ${sample.img} is ${img.width}x${img.height}`);
        }
        const t = segTestTransform(img, testScale);
        return { image: t.image, height: t.height, width: t.width, label: label.data, origHeight: label.height, origWidth: label.width, file: sample.img };
      } catch (err) {
        if (!bad) throw err;
        bad.handle(sample.img, err);
        return null;
      }
    };
    for await (const s of this.prefetched(0, dataset.samples.length, load)) if (s) yield s;
  }

  stats(): LoaderStats {
    const c = this.counters;
    const loadMs = c.loadMs + (c.active > 0 ? performance.now() - c.activeSince : 0);
    return { samples: c.samples, loadSeconds: loadMs / 1000, imgPerSec: loadMs > 0 ? (1000 * c.samples) / loadMs : 0, waitSeconds: c.waitMs / 1000 };
  }

  /**
   * Yield load(pos) for pos in [start, end) in order, running at most `concurrency` loads and keeping at most
   * `prefetch` results ahead. Stopping the consumer (break / return / throw) drops queued work.
   */
  private async *prefetched<T>(start: number, end: number, load: (pos: number) => Promise<T>): AsyncGenerator<T> {
    const { concurrency, prefetch } = this.opts;
    const limit = pLimit(concurrency);
    const c = this.counters;
    let stopped = false;
    const pending = new Map<number, Promise<T>>();
    const timed = async (pos: number): Promise<T> => {
      if (stopped) throw new Error('loader stopped');
      if (c.active++ === 0) c.activeSince = performance.now();
      try {
        const v = await load(pos);
        c.samples++;
        return v;
      } finally {
        if (--c.active === 0) c.loadMs += performance.now() - c.activeSince;
      }
    };
    const schedule = (pos: number) => {
      if (pos >= end) return;
      const p = limit(() => timed(pos));
      p.catch(() => {}); // surfaced when the consumer reaches it; never an unhandled rejection
      pending.set(pos, p);
    };
    try {
      for (let pos = start; pos < Math.min(end, start + prefetch); pos++) schedule(pos);
      for (let pos = start; pos < end; pos++) {
        const t0 = performance.now();
        const v = await pending.get(pos)!;
        c.waitMs += performance.now() - t0;
        pending.delete(pos);
        schedule(pos + prefetch);
        yield v;
      }
    } finally {
      stopped = true;
      limit.clearQueue();
    }
  }
}
