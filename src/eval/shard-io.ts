/**
 * What an evaluation shard leaves in its work dir for `mff merge-eval`: the raw accumulators, never rounded metrics.
 *
 *   shard.json          manifest: task, shard I/N, images, checkpoint + config fingerprint, classes, and for
 *                       cls-eval the per-class top-1/top-k counts; written last, so its presence marks a complete shard
 *   areas.safetensors   seg-eval: per-image IoU histograms, `index` I64 [n] (dataset index) and
 *                       `intersect` / `union` / `pred_label` / `label` I64 [n, C] (mmseg IoUMetric.process results)
 *   predictions.jsonl   cls-eval: one line per image, `{"index": k, ...the --out record}`
 *
 * Per-image histograms (rather than shard totals) let the merge add them in dataset order, which makes its float32
 * totals, and so every printed digit, those of a single run (metrics/iou.ts sums in float32 like mmseg).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/checkpoint.js';
import { readSafetensors, serializeSafetensors, type StTensor } from '../io/safetensors.js';
import type { Areas, IoUMetricName } from '../metrics/iou.js';
import type { ClsCounts } from './cls-metrics.js';
import type { Prediction } from './cls-eval.js';
import type { Shard } from './shard.js';

export const SHARD_MANIFEST = 'shard.json';
export const SHARD_AREAS = 'areas.safetensors';
export const SHARD_PREDICTIONS = 'predictions.jsonl';

interface ShardManifestBase {
  format: 'mff-eval-shard';
  version: 1;
  shard: Shard;
  /** Images of the whole evaluation (all shards). */
  total_images: number;
  /** Images of this shard. */
  images: number;
  checkpoint: string;
  checkpoint_bytes: number;
  /** sha256 of the resolved config JSON: shards of one evaluation must agree on it. */
  config_sha256: string;
  classes: string[];
  backend: string;
  wall_s: number;
  /** `<run>/eval_<checkpoint>_<split>`: merge-eval's default output is ./work_dirs/<this>. */
  eval_dir_name: string;
  /** Files this shard skipped (--skip-bad-files); merge-eval reports their union. */
  bad_files?: { skipped: number; files: { file: string; reason: string }[] };
}

export interface SegShardManifest extends ShardManifestBase {
  task: 'seg-eval';
  dataset: string;
  ignore_index: number;
  metrics: IoUMetricName[];
  test_cfg: unknown;
  test_scale: number[];
  /** Seconds of model time and of loader time, for the merged throughput figures. */
  model_s: number;
  loader_img_per_s: number;
}

export interface ClsShardManifest extends ShardManifestBase {
  task: 'cls-eval';
  root: string;
  split: string;
  mode: string;
  /** Images per forward pass; shards deal whole batches of it (eval/shard.ts), so all shards must use the same. */
  batch_size: number;
  counts: ClsCounts;
}

export type ShardManifest = SegShardManifest | ClsShardManifest;

export type IndexedPrediction = { index: number } & Prediction;

/** sha256 of a JSON value (key order as built). */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

export function fileBytes(file: string): number {
  return statSync(file).size;
}

const AREA_KEYS = [['intersect', 'intersect'], ['union', 'union'], ['pred_label', 'predLabel'], ['label', 'label']] as const;

export function writeSegShard(dir: string, manifest: SegShardManifest, areas: { index: number; areas: Areas }[]): void {
  const C = manifest.classes.length;
  const n = areas.length;
  const tensors = new Map<string, StTensor>();
  tensors.set('index', { dtype: 'I64', shape: [n], data: Int32Array.from(areas, (a) => a.index) });
  for (const [name, key] of AREA_KEYS) {
    const data = new Int32Array(n * C);
    areas.forEach((a, i) => data.set(a.areas[key], i * C));
    tensors.set(name, { dtype: 'I64', shape: [n, C], data });
  }
  writeFileAtomic(join(dir, SHARD_AREAS), serializeSafetensors(tensors, { format: 'mff-eval-shard' }));
  writeFileAtomic(join(dir, SHARD_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}

export function writeClsShard(dir: string, manifest: ClsShardManifest, predictions: IndexedPrediction[]): void {
  writeFileAtomic(join(dir, SHARD_PREDICTIONS), predictions.map((p) => JSON.stringify(p)).join('\n') + (predictions.length ? '\n' : ''));
  writeFileAtomic(join(dir, SHARD_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}

export function readShardManifest(dir: string): ShardManifest {
  const file = join(dir, SHARD_MANIFEST);
  if (!existsSync(file)) {
    throw new Error(`${dir}: not an evaluation shard (no ${SHARD_MANIFEST}; run seg-eval/cls-eval with --shard I/N, or the shard did not finish)`);
  }
  let m: ShardManifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as ShardManifest;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (m.format !== 'mff-eval-shard' || m.version !== 1) throw new Error(`${file}: format '${String(m.format)}' version ${String(m.version)} is not an mff-eval-shard v1 manifest`);
  if (m.task !== 'seg-eval' && m.task !== 'cls-eval') throw new Error(`${file}: unknown task '${String((m as { task?: unknown }).task)}'`);
  return m;
}

/** The per-image areas of a seg shard, checked against its manifest. */
export function readSegShardAreas(dir: string, m: SegShardManifest): { index: number; areas: Areas }[] {
  const file = join(dir, SHARD_AREAS);
  if (!existsSync(file)) throw new Error(`${file}: missing (the manifest ${join(dir, SHARD_MANIFEST)} names ${m.images} images)`);
  const { tensors } = readSafetensors(file);
  const C = m.classes.length;
  const index = tensors.get('index');
  if (!index || index.shape.length !== 1 || index.shape[0] !== m.images) {
    throw new Error(`${file}: 'index' has shape [${index?.shape ?? '-'}], expected [${m.images}] (images in ${SHARD_MANIFEST})`);
  }
  const cols = AREA_KEYS.map(([name]) => {
    const t = tensors.get(name);
    if (!t || t.shape.join() !== `${m.images},${C}`) throw new Error(`${file}: '${name}' has shape [${t?.shape ?? '-'}], expected [${m.images}, ${C}]`);
    return t.data;
  });
  return Array.from(index.data, (k, i) => {
    const row = (d: Float32Array | Int32Array) => Float64Array.from(d.subarray(i * C, (i + 1) * C));
    return { index: k, areas: { intersect: row(cols[0]), union: row(cols[1]), predLabel: row(cols[2]), label: row(cols[3]) } };
  });
}

export function readClsShardPredictions(dir: string, m: ClsShardManifest): IndexedPrediction[] {
  const file = join(dir, SHARD_PREDICTIONS);
  if (!existsSync(file)) throw new Error(`${file}: missing (the manifest ${join(dir, SHARD_MANIFEST)} names ${m.images} images)`);
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  if (lines.length !== m.images) throw new Error(`${file}: ${lines.length} predictions, but ${SHARD_MANIFEST} says ${m.images} images`);
  return lines.map((l, i) => {
    try {
      return JSON.parse(l) as IndexedPrediction;
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
  });
}
