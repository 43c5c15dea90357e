/**
 * Sharded evaluation: `seg-eval` / `cls-eval --shard I/N` on every shard, then `merge-eval`, prints and records exactly
 * what one unsharded run does (tiny random-init models on small copies of the bundled data). Also: the merge replays
 * per-image histograms in dataset order (float32 totals beyond 2^24), refuses incomplete or foreign shard sets, and
 * evaluations write under ./work_dirs by default, nothing beside the checkpoint.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import { Rng } from '../../src/io/rng.js';
import { buildSegmentor } from '../../src/models/seg/segmentor.js';
import { buildClassifier } from '../../src/models/cls/classifier.js';
import { loadSegMeta } from '../../src/data/seg/ade20k.js';
import { segEvalCommand } from '../../src/commands/seg-eval.js';
import { clsEvalCommand } from '../../src/commands/cls-eval.js';
import { mergeEvalCommand } from '../../src/commands/merge-eval.js';
import { runMergeEval } from '../../src/engine/merge-eval.js';
import { IoUAccumulator, type Areas } from '../../src/metrics/iou.js';
import { writeSegShard, type SegShardManifest } from '../../src/eval/shard-io.js';
import { parseShard, shardIndices } from '../../src/eval/shard.js';
import { smallScenes, tinySegConfig } from '../seg/helpers.js';
import { smallClsDataset, tinyClsConfig } from '../cls/helpers.js';
import { tempDir } from '../engine/temp-dirs.js';
import { defaultEvalWorkDir } from '../../src/engine/eval-dirs.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});
afterEach(() => vi.restoreAllMocks());

/** Run a command, return its stdout lines (stderr muted). */
async function stdout(cmd: { parseAsync: (a: string[], o: { from: 'user' }) => Promise<unknown> }, args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    await cmd.parseAsync(args, { from: 'user' });
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  return lines;
}

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
/** The printed JSON line without the fields that are not metrics (timings, paths). */
const metricsOf = (line: string) => {
  const { img_per_s: _a, model_img_per_s: _b, loader_img_per_s: _c, wall_s: _d, work_dir: _e, checkpoint: _f, ...rest } = JSON.parse(line);
  return rest;
};

describe('--shard I/N', () => {
  test('parses I/N, rejects the rest; the shards partition the indices', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    for (const bad of ['5/5', '1', '-1/2', '1/0', 'a/b']) expect(() => parseShard(bad)).toThrow(/--shard/);
    const all = [0, 1, 2].flatMap((i) => shardIndices(7, { index: i, count: 3 }));
    expect(all.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(shardIndices(7, { index: 1, count: 3 })).toEqual([1, 4]);
    expect(shardIndices(10, { index: 0, count: 2 }, 3)).toEqual([0, 1, 2, 6, 7, 8]); // whole batches of 3
    expect(shardIndices(10, { index: 1, count: 2 }, 3)).toEqual([3, 4, 5, 9]);
  });
});

describe('seg-eval shards + merge-eval = one seg-eval', () => {
  test('same per-class table, summary line and metrics JSON; summary.json per_class identical', async () => {
    const root = smallScenes(0, 7);
    const cfg = tinySegConfig(root);
    const meta = await loadSegMeta(root);
    const model = buildSegmentor(cfg.model, new Rng(5));
    const ckpt = join(tempDir('mff-shard-ck-'), 'seg.ckpt');
    saveCheckpoint(ckpt, model.params.toStateDict(), { format_version: 1, task: 'seg', config: cfg, classes: [...meta.classes] });
    model.params.dispose();
    const before = tf.memory().numTensors;
    const out = tempDir('mff-shard-out-');
    const args = ['--checkpoint', ckpt, '--metrics', 'mIoU', 'mDice', '-q'];
    const single = await stdout(segEvalCommand(), [...args, '--work-dir', join(out, 'single')]);
    const dirs = [2, 0, 1].map((i) => join(out, `s${i}`));
    for (const i of [0, 1, 2]) await stdout(segEvalCommand(), [...args, '--shard', `${i}/3`, '--work-dir', join(out, `s${i}`)]);
    expect(tf.memory().numTensors).toBe(before);
    const merged = await stdout(mergeEvalCommand(), [...dirs, '--work-dir', join(out, 'merged'), '-q']);

    expect(merged.length).toBe(single.length);
    expect(merged.slice(0, -1)).toEqual(single.slice(0, -1)); // per-class table + summary line, character for character
    expect(metricsOf(merged.at(-1)!)).toEqual(metricsOf(single.at(-1)!));
    expect(metricsOf(single.at(-1)!).images).toBe(7);
    // not a trivial model: several classes predicted
    const s = readJson(join(out, 'single', 'summary.json'));
    const m = readJson(join(out, 'merged', 'summary.json'));
    expect(s.per_class.IoU.filter((v: unknown) => typeof v === 'number' && v > 0).length).toBeGreaterThan(1);
    expect(m.per_class).toEqual(s.per_class);
    expect(m.metrics).toEqual(s.metrics);
    expect(m.merged_shards).toBe(3);
    // each shard saw its slice only
    expect(readJson(join(out, 's1', 'shard.json'))).toMatchObject({ shard: { index: 1, count: 3 }, images: 2, total_images: 7 });
  }, 60_000);
});

describe('cls-eval shards + merge-eval = one cls-eval', () => {
  test('same printed lines, per-class accuracy and per-image predictions (byte for byte)', async () => {
    const root = smallClsDataset(3, 8);
    const cfg = tinyClsConfig('finetune', { data: { ...tinyClsConfig('finetune').data, root } });
    cfg.model.numClasses = 3;
    const model = buildClassifier(cfg.model, new Rng(2));
    const ckpt = join(tempDir('mff-shard-ck-'), 'cls.ckpt');
    const classes = readdirSync(join(root, 'val')).sort();
    saveCheckpoint(ckpt, model.params.toStateDict(), { format_version: 1, task: 'cls', config: cfg, classes });
    model.params.dispose();
    const out = tempDir('mff-shard-out-');
    // 24 images in batches of 4 = 6 batches dealt to 5 shards (shard 0 gets two)
    const single = await stdout(clsEvalCommand(), ['--checkpoint', ckpt, '--batch-size', '4', '--out', join(out, 'single.jsonl'), '--work-dir', join(out, 'single'), '-q']);
    const dirs: string[] = [];
    for (const i of [4, 1, 3, 0, 2]) {
      dirs.push(join(out, `s${i}`));
      await stdout(clsEvalCommand(), ['--checkpoint', ckpt, '--shard', `${i}/5`, '--work-dir', join(out, `s${i}`), '-q', '--batch-size', '4']);
    }
    const merged = await stdout(mergeEvalCommand(), [...dirs, '--work-dir', join(out, 'merged'), '--out', join(out, 'merged.jsonl'), '-q']);
    // one JSON line each (engine/report.ts printClsEval); the metrics equal, timing and folders differ
    expect(single).toHaveLength(1);
    expect(merged).toHaveLength(1);
    const [js, jm] = [JSON.parse(single[0]), JSON.parse(merged[0])];
    for (const k of ['accuracy/top1', 'accuracy/top5', 'mean_class_accuracy', 'topk', 'dataset']) expect(jm[k], k).toEqual(js[k]);
    expect(js.dataset.images).toBe(24);
    expect(readJson(join(out, 's0', 'shard.json'))).toMatchObject({ images: 8, batch_size: 4 });
    const s = readJson(join(out, 'single', 'summary.json'));
    const m = readJson(join(out, 'merged', 'summary.json'));
    for (const k of ['accuracy/top1', 'accuracy/top5', 'mean_class_accuracy', 'per_class', 'topk', 'dataset']) expect(m[k], k).toEqual(s[k]);
    expect(readFileSync(join(out, 'merged.jsonl'), 'utf8')).toBe(readFileSync(join(out, 'single.jsonl'), 'utf8'));
    // top-1 is neither 0 nor 100: the counts carry information
    expect(s['accuracy/top1']).toBeGreaterThan(0);
    expect(s['accuracy/top1']).toBeLessThan(100);
  }, 60_000);
});

describe('merge-eval on synthetic seg shards', () => {
  const C = 3;
  const N = 3;
  const total = 10;
  // per-image counts of a few million pixels: the float32 totals round beyond 2^24, so the order of the sums matters
  const areasOf = (k: number): Areas => {
    const label = Float64Array.from({ length: C }, (_, c) => 3_000_001 + 7919 * ((k * 3 + c) % 11));
    const predLabel = Float64Array.from(label, (v, c) => v + 1013 * ((k + c) % 5));
    const intersect = Float64Array.from(label, (v, c) => v - 4099 * ((k + 2 * c) % 7));
    const union = Float64Array.from(intersect, (v, c) => predLabel[c] + label[c] - v);
    return { intersect, union, predLabel, label };
  };
  const manifest = (i: number, over: Partial<SegShardManifest> = {}): SegShardManifest => ({
    format: 'mff-eval-shard', version: 1, task: 'seg-eval', shard: { index: i, count: N }, total_images: total,
    images: shardIndices(total, { index: i, count: N }).length, checkpoint: '/x/seg.ckpt', checkpoint_bytes: 123, config_sha256: 'abc',
    classes: ['a', 'b', 'c'], backend: 'cpu', wall_s: 1, eval_dir_name: 'run/eval_seg_validation', dataset: '/d/validation', ignore_index: 255,
    metrics: ['mIoU', 'mFscore'], test_cfg: { mode: 'whole' }, test_scale: [64, 64], model_s: 1, loader_img_per_s: 10, ...over,
  });
  const makeShards = (over: (i: number) => Partial<SegShardManifest> = () => ({})) => {
    const dir = tempDir('mff-synth-');
    return [0, 1, 2].map((i) => {
      const d = join(dir, `shard-${i}`);
      writeSegShard(d, manifest(i, over(i)), shardIndices(total, { index: i, count: N }).map((k) => ({ index: k, areas: areasOf(k) })));
      return d;
    });
  };

  test('replays per-image histograms in dataset order: the float32 totals of one accumulator, bit for bit', async () => {
    const one = new IoUAccumulator(C);
    for (let k = 0; k < total; k++) one.accumulate(areasOf(k));
    const want = one.compute(['mIoU', 'mFscore']);
    const dirs = makeShards();
    const r = await runMergeEval([dirs[2], dirs[0], dirs[1]], { workDir: join(tempDir('mff-synth-out-'), 'm'), quiet: true });
    if (r.task !== 'seg-eval') throw new Error('expected a seg merge');
    expect(Array.from(r.seg.result.totals.label)).toEqual(Array.from(want.totals.label));
    expect(r.seg.result.perClass).toEqual(want.perClass);
    expect(r.seg.metrics).toEqual(want.metrics);
    // what summing shard totals would give instead: the float32 totals differ, so the order is what the test checks
    const byShard = new IoUAccumulator(C);
    for (const i of [0, 1, 2]) {
      const part = new IoUAccumulator(C);
      for (const k of shardIndices(total, { index: i, count: N })) part.accumulate(areasOf(k));
      byShard.accumulate(part.compute().totals);
    }
    expect(Array.from(byShard.compute().totals.label)).not.toEqual(Array.from(want.totals.label));
  });

  test('refuses missing, duplicate and foreign shards and non-shard folders, naming the folder', async () => {
    const dirs = makeShards();
    const q = { quiet: true, workDir: tempDir('mff-synth-out-') };
    await expect(runMergeEval([dirs[0], dirs[2]], q)).rejects.toThrow('merge-eval: missing shard 1/3 (have 0/3, 2/3)');
    await expect(runMergeEval([dirs[0], dirs[1], dirs[2], dirs[1]], q)).rejects.toThrow(`${dirs[1]}: shard 1/3 is also ${dirs[1]}`);
    const other = makeShards((i) => (i === 1 ? { config_sha256: 'def' } : {}));
    await expect(runMergeEval(other, q)).rejects.toThrow(`${other[1]}: config (sha256 of the resolved config) "def" differs from "abc" of ${other[0]}`);
    const empty = tempDir('mff-synth-empty-');
    await expect(runMergeEval([empty], q)).rejects.toThrow(`${empty}: not an evaluation shard (no shard.json`);
  });
});

describe('default output location', () => {
  test('cls-eval and seg-eval without --work-dir write under ./work_dirs, nothing beside the checkpoint', async () => {
    const root = smallClsDataset(3, 2);
    const cfg = tinyClsConfig('linear', { data: { ...tinyClsConfig('linear').data, root }, workDir: 'work_dirs/my-probe' });
    cfg.model.numClasses = 3;
    const model = buildClassifier(cfg.model, new Rng(2));
    const ckDir = tempDir('mff-ro-store-');
    const ckpt = join(ckDir, 'probe.ckpt');
    saveCheckpoint(ckpt, model.params.toStateDict(), { format_version: 1, task: 'cls', config: cfg, classes: readdirSync(join(root, 'val')).sort() });
    model.params.dispose();
    const segRoot = smallScenes(0, 1);
    const segCfg = { ...tinySegConfig(segRoot), workDir: '/runs/upernet_tiny' };
    const seg = buildSegmentor(segCfg.model, new Rng(5));
    const segCkpt = join(ckDir, 'seg.ckpt');
    saveCheckpoint(segCkpt, seg.params.toStateDict(), { format_version: 1, task: 'seg', config: segCfg, classes: [...(await loadSegMeta(segRoot)).classes] });
    seg.params.dispose();
    const cwd = process.cwd();
    const here = tempDir('mff-cwd-');
    process.chdir(here);
    let printed: string[];
    try {
      await stdout(clsEvalCommand(), ['--checkpoint', ckpt, '-q']);
      printed = await stdout(segEvalCommand(), ['--checkpoint', segCkpt, '-q']);
    } finally {
      process.chdir(cwd);
    }
    expect(readdirSync(ckDir).sort()).toEqual(['probe.ckpt', 'seg.ckpt']);
    expect(existsSync(join(here, 'work_dirs', 'my-probe', 'eval_probe_val', 'summary.json'))).toBe(true);
    const segDir = join(here, 'work_dirs', 'upernet_tiny', 'eval_seg_validation');
    expect(existsSync(join(segDir, 'summary.json'))).toBe(true);
    expect(JSON.parse(printed.at(-1)!).work_dir).toBe(segDir); // printed where it went
  });

  test('the default dir: --config name, else the run name, else the checkpoint name; shards in a subfolder', () => {
    const o = { checkpoint: '/models/x/iter_8000.ckpt', split: 'validation', cwd: '/home/u' };
    expect(defaultEvalWorkDir(o)).toBe('/home/u/work_dirs/iter_8000/eval_iter_8000_validation');
    expect(defaultEvalWorkDir({ ...o, runWorkDir: 'work_dirs/upernet_x' })).toBe('/home/u/work_dirs/upernet_x/eval_iter_8000_validation');
    expect(defaultEvalWorkDir({ ...o, runWorkDir: 'work_dirs/upernet_x', configFile: 'configs/my_cfg.ts', shard: { index: 1, count: 4 } }))
      .toBe('/home/u/work_dirs/my_cfg/eval_iter_8000_validation/shard-1-of-4');
  });
});
