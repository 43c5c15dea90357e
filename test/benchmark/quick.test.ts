/**
 * `mff benchmark --quick`: the whole stack (data preparation, MFF and MAE pretraining, every downstream task for every
 * backbone, the report) at toy sizes. Checks files and finite metrics, not results; then that a second invocation
 * reuses every finished run. Needs Debian's dataset-fashion-mnist (.ci/run installs it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import sharp from 'sharp';
import { runBenchmark, type BenchmarkResult } from '../../src/engine/benchmark/run-benchmark.js';
import { SUITES, BACKBONES } from '../../src/engine/benchmark/suites.js';
import { tempDir } from '../engine/temp-dirs.js';

const out = tempDir('mff-bench-');
let first: BenchmarkResult;
const lines: string[] = [];

beforeAll(async () => {
  first = await runBenchmark({ suite: 'quick', out, jobs: 1, log: (l) => lines.push(l) });
}, 600_000);

describe('mff benchmark --quick', () => {
  test('one finite result per task × backbone × seed, and both pretrainings', () => {
    const suite = SUITES.quick;
    expect(first.runs.length).toBe(suite.tasks.length * BACKBONES.length * suite.seeds);
    for (const r of first.runs) {
      expect(Number.isFinite(r.value), `${r.task} ${r.backbone}`).toBe(true);
      expect(r.value).toBeGreaterThanOrEqual(0);
      expect(r.value).toBeLessThanOrEqual(100);
      expect(existsSync(join(out, r.run_dir, 'summary.json'))).toBe(true);
    }
    for (const a of ['mff', 'mae'] as const) {
      expect(first.pretrain[a]!.iterations).toBeGreaterThan(0);
      expect(existsSync(first.pretrain[a]!.checkpoint)).toBe(true);
    }
    // the pretrained arms start from the checkpoints, the random arm from nothing
    const seg = JSON.parse(readFileSync(join(out, first.runs.find((r) => r.task === 'seg-finetune' && r.backbone === 'mff')!.run_dir, 'summary.json'), 'utf8'));
    expect(seg.pretrained).toBe(first.pretrain.mff!.checkpoint);
    const rnd = JSON.parse(readFileSync(join(out, first.runs.find((r) => r.task === 'seg-finetune' && r.backbone === 'random')!.run_dir, 'summary.json'), 'utf8'));
    expect(rnd.pretrained).toBeNull();
  });

  test('summary.json / summary.md: a row per backbone, a column per task, the control, machine and engine', () => {
    const s = JSON.parse(readFileSync(first.summaryJson, 'utf8'));
    expect(Object.keys(s.table).sort()).toEqual([...BACKBONES].sort());
    expect(s.tasks.map((t: { id: string }) => t.id)).toEqual(SUITES.quick.tasks.map((t) => t.id));
    expect(s.backend).toMatch(/^(wasm|cpu|tensorflow)/);
    expect(s.machine).toMatch(/engine /);
    const md = readFileSync(first.summaryMd, 'utf8');
    for (const label of ['| MFF |', '| MAE |', '| random init |', 'MFF − MAE', 'Control', '## Phases']) expect(md).toContain(label);
  });

  test('plots decode and are not blank', async () => {
    for (const f of ['results.png', 'per-class-iou.png', 'pretrain-loss.png', 'mff-fusion-weights.png']) {
      const img = sharp(join(out, f));
      const meta = await img.metadata();
      expect(meta.width, f).toBeGreaterThan(300);
      const st = await img.stats();
      expect(st.channels.some((c) => c.stdev > 5), f).toBe(true);
    }
  });

  test('a second invocation reuses every finished run and reproduces the table', async () => {
    const again = await runBenchmark({ suite: 'quick', out, jobs: 1, log: () => {} });
    expect(again.runs.every((r) => r.cached)).toBe(true);
    expect(again.pretrain.mff!.cached && again.pretrain.mae!.cached).toBe(true);
    expect(again.runs.map((r) => r.value)).toEqual(first.runs.map((r) => r.value));
  });

  test('--jobs 2 (worker processes, a share of the cores each) gives the same results as one process', async () => {
    const out2 = tempDir('mff-bench-jobs-');
    const tasks = ['cls-linear', 'seg-linear'];
    const r = await runBenchmark({ suite: 'quick', out: out2, jobs: 2, tasks, backbones: ['mff', 'random'], log: () => {} });
    const key = (x: { task: string; backbone: string; seed: number }) => `${x.task} ${x.backbone} ${x.seed}`;
    const want = new Map(first.runs.filter((x) => tasks.includes(x.task) && x.backbone !== 'mae').map((x) => [key(x), x.value]));
    expect(r.runs.length).toBe(want.size);
    for (const x of r.runs) expect(x.value, key(x)).toBe(want.get(key(x)));
    expect(r.pretrain.mff!.final_loss).toBe(first.pretrain.mff!.final_loss);
  }, 300_000);
});
