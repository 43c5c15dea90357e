/**
 * The training loop driver against a toy task (linear regression with label noise drawn from a resumable Rng):
 * outputs and lr per iteration, bit-identical resume (stopped, and from a periodic save as after kill -9),
 * SIGINT / SIGTERM, the NaN guard, gradient accumulation = one large batch, no tensor leak.
 * The task tests (test/pretrain, test/cls, test/seg) check that each task runs through this loop.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { ParamStore } from '../../src/nn/params.js';
import { Rng } from '../../src/io/rng.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { createOptimizer, type OptimizerSpec } from '../../src/engine/optim.js';
import { lrAt, type ScheduleSpec } from '../../src/engine/schedule.js';
import { GradAccumulator, checkLoss, gradsByName, loopSummary, trainLoop, type LoopResult } from '../../src/engine/train-loop.js';
import { tempDir } from './temp-dirs.js';

const workDir = () => tempDir('mff-loop-');

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

const N = 16; // samples per epoch
const D = 4;

/** Sample k of the toy dataset: x [D] and y = x·[1, -2, 3, 0.5] + 0.25. */
function sample(k: number): { x: number[]; y: number } {
  const x = Array.from({ length: D }, (_, j) => Math.sin(1.3 * k + 0.7 * j + 0.1));
  return { x, y: x[0] - 2 * x[1] + 3 * x[2] + 0.5 * x[3] + 0.25 };
}

interface ToyBatch {
  x: Float32Array; // [B, D]
  y: Float32Array; // [B]
  files: string[];
}

/** Micro-batches of `batch` samples, in an epoch-dependent order. */
async function* toyBatches(epoch: number, start: number, batch: number): AsyncGenerator<ToyBatch> {
  const order = new Rng(1000 + epoch).permutation(N);
  for (let i = start; i < N / batch; i++) {
    const ks = Array.from(order.subarray(i * batch, (i + 1) * batch));
    yield { x: Float32Array.from(ks.flatMap((k) => sample(k).x)), y: Float32Array.from(ks.map((k) => sample(k).y)), files: ks.map((k) => `s${k}`) };
  }
}

interface ToyOptions {
  batch?: number;
  accumSteps?: number;
  epochs?: number;
  maxIters?: number;
  checkpointInterval?: number;
  resume?: boolean;
  optim?: OptimizerSpec;
  /** Called at the start of each micro-batch with the number of micro-batches seen so far. */
  onStep?: (microBatch: number) => number | void;
}

type ToyOut = { r: LoopResult; w: number[]; b: number[]; summary: ReturnType<typeof loopSummary> };

/** One toy run in `wd`; resolves to the loop result and the final weights. */
function runToy(wd: string, o: ToyOptions = {}): Promise<ToyOut> {
  const { batch = 4, accumSteps = 1, epochs = 3, maxIters = 0, checkpointInterval = 2, resume = false, optim = { type: 'AdamW' } } = o;
  const p = new ParamStore();
  const init = new Rng(7);
  p.add('w', tf.tensor2d(Array.from({ length: D }, () => init.normal() * 0.1), [D, 1]));
  p.add('b', tf.zeros([1]));
  const names = p.trainableNames();
  const optimizer = createOptimizer(optim, p, new Map(names.map((n) => [n, { lrScale: 1, weightDecay: 0.01 }])));
  const noise = new Rng(3);
  const itersPerEpoch = N / batch / accumSteps;
  const totalIters = epochs * itersPerEpoch;
  const schedule: ScheduleSpec = [
    { type: 'LinearLR', begin: 0, end: 2, startFactor: 0.5 },
    { type: 'CosineAnnealingLR', begin: 2, end: totalIters, etaMin: 0 },
  ];
  let micro = 0;
  return trainLoop(
    {
      task: 'toy', label: 'toy', workDir: wd, config: { toy: true, batch }, params: p, optimizer, rngs: { noise },
      batches: (epoch, start) => toyBatches(epoch, start, batch),
      itersPerEpoch, accumSteps, effectiveBatch: batch * accumSteps, schedule, baseLr: 0.05, totalIters, maxIters,
      logInterval: 1, checkpointInterval, resume, quiet: true, log: () => {},
      step: (bt) => {
        const B = bt.y.length;
        const override = o.onStep?.(micro++);
        const yNoisy = bt.y.map((v) => v + 0.01 * noise.normal()); // label noise: the Rng state must survive a resume
        const x = tf.tensor2d(bt.x, [B, D]);
        const y = tf.tensor2d(yNoisy, [B, 1]);
        const out = gradsByName(p, names, () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, p.get('w')), p.get('b')), y))) as tf.Scalar);
        tf.dispose([x, y]);
        return typeof override === 'number' ? { ...out, loss: override } : out;
      },
    },
    async (r) => ({ r, w: Array.from(p.get('w').dataSync()), b: Array.from(p.get('b').dataSync()), summary: loopSummary(r, batch * accumSteps) }),
  );
}

const losses = (wd: string) => readFileSync(join(wd, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('trainLoop', () => {
  test('runs every iteration with the scheduled lr, writes metrics/config, removes the resume state; no leak', async () => {
    const wd = workDir();
    const before = tf.memory().numTensors;
    const { r, summary } = await runToy(wd);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.pos).toMatchObject({ iteration: 12, epoch: 3, batchInEpoch: 0 });
    const lines = losses(wd);
    expect(lines.map((l) => l.iter)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(lines.map((l) => l.epoch)).toEqual([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]);
    const spec: ScheduleSpec = [{ type: 'LinearLR', begin: 0, end: 2, startFactor: 0.5 }, { type: 'CosineAnnealingLR', begin: 2, end: 12, etaMin: 0 }];
    lines.forEach((l, i) => expect(l.lr).toBe(lrAt(i, spec, 0.05)));
    for (const l of lines) for (const k of ['loss', 'img_per_s', 'model_img_per_s', 'tensors']) expect(typeof l[k], k).toBe('number');
    expect(lines.at(-1)!.loss).toBeLessThan(lines[0].loss);
    expect(JSON.parse(readFileSync(join(wd, 'config.json'), 'utf8'))).toEqual({ toy: true, batch: 4 });
    expect(existsSync(join(wd, 'resume.safetensors'))).toBe(false);
    expect(Object.keys(summary)).toEqual(['iterations', 'total_iterations', 'effective_batch', 'final_loss', 'wall_s', 'img_per_s', 'model_img_per_s', 'interrupted']);
    expect(summary).toMatchObject({ iterations: 12, total_iterations: 12, effective_batch: 4, final_loss: lines.at(-1)!.loss, interrupted: false });
  });

  test('stopped at maxIters, then --resume: bit-identical weights and losses', async () => {
    const fullDir = workDir();
    const full = await runToy(fullDir);
    const wd = workDir();
    const part = await runToy(wd, { maxIters: 5 });
    expect(part.r.pos.iteration).toBe(5);
    expect(loadCheckpoint(join(wd, 'resume.safetensors')).meta!.iteration).toBe(5);
    const rest = await runToy(wd, { resume: true });
    expect(rest.r.pos.iteration).toBe(12);
    expect(rest.r.trainedIters).toBe(7);
    expect(rest.w).toEqual(full.w);
    expect(rest.b).toEqual(full.b);
    expect(losses(wd).map((l) => l.loss)).toEqual(losses(fullDir).map((l) => l.loss));
  });

  test('a periodic save (the kill -9 case) resumes bit-identically, replaying the steps after it', async () => {
    const full = await runToy(workDir());
    const wd = workDir();
    // a crash after iteration 7: the last periodic save (checkpointInterval 3) holds iteration 6
    await expect(runToy(wd, { checkpointInterval: 3, onStep: (m) => { if (m === 7) throw new Error('crash'); } })).rejects.toThrow('crash');
    expect(loadCheckpoint(join(wd, 'resume.safetensors')).meta!.iteration).toBe(6);
    const rest = await runToy(wd, { resume: true });
    expect(rest.w).toEqual(full.w);
    expect(losses(wd).map((l) => l.iter)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal}: finishes the step, saves the resume state, stops; --resume continues bit-identically`, async () => {
      const full = await runToy(workDir());
      const wd = workDir();
      const before = process.listenerCount(signal);
      const part = await runToy(wd, { onStep: (m) => void (m === 4 && process.emit(signal, signal)) });
      expect(process.listenerCount(signal)).toBe(before);
      expect(part.r.interrupted).toBe(true);
      expect(part.r.pos.iteration).toBe(5); // the step of micro-batch 4 completes
      expect(loadCheckpoint(join(wd, 'resume.safetensors')).meta!.iteration).toBe(5);
      const rest = await runToy(wd, { resume: true });
      expect(rest.w).toEqual(full.w);
    });
  }

  test('NaN guard: stops naming iteration, batch and file; the last good resume state stays; no leak', async () => {
    const wd = workDir();
    const before = tf.memory().numTensors;
    const run = runToy(wd, { checkpointInterval: 1, onStep: (m) => (m === 6 ? NaN : undefined) });
    await expect(run).rejects.toThrow(/loss became NaN at iteration 6 \(epoch 1, batch 2, first file s\d+\); stopping without overwriting the last good state in /);
    expect(tf.memory().numTensors).toBe(before);
    const ck = loadCheckpoint(join(wd, 'resume.safetensors'));
    expect(ck.meta!.iteration).toBe(6);
    for (const [k, v] of ck.tensors) expect(Array.from(v.data).every(Number.isFinite), k).toBe(true);
    expect(losses(wd).map((l) => l.iter)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('gradient accumulation: batch 4 × 2 micro-batches gives the weights of batch 8', async () => {
    const sgd: OptimizerSpec = { type: 'SGD' };
    const one = await runToy(workDir(), { batch: 8, optim: sgd });
    const acc = await runToy(workDir(), { batch: 4, accumSteps: 2, optim: sgd });
    expect(acc.r.pos.iteration).toBe(one.r.pos.iteration);
    expect(acc.summary.effective_batch).toBe(8);
    // the same samples and noise per step; only float32 summation order differs
    acc.w.forEach((v, i) => expect(v).toBeCloseTo(one.w[i], 5));
    expect(acc.b[0]).toBeCloseTo(one.b[0], 5);
    acc.r.losses.forEach((l, i) => expect(l).toBeCloseTo(one.r.losses[i], 5));
  });
});

describe('loop pieces', () => {
  test('GradAccumulator averages over accumSteps micro-batches by parameter name; take() resets; no leak', () => {
    const before = tf.memory().numTensors;
    const acc = new GradAccumulator(3);
    const g = [
      [[1, 2], [10]],
      [[3, 4], [20]],
      [[5, 9], [60]],
    ];
    g.forEach(([w, b], i) => {
      expect(acc.full).toBe(false);
      acc.add(new Map([['a.weight', tf.tensor1d(w)], ['a.bias', tf.tensor1d(b)]]), i + 1);
    });
    expect(acc.full).toBe(true);
    const { grads, loss } = acc.take();
    expect(loss).toBeCloseTo((1 + 2 + 3) / 3, 12);
    expect(Array.from(grads.get('a.weight')!.dataSync())).toEqual([3, 5].map(Math.fround));
    expect(Array.from(grads.get('a.bias')!.dataSync())[0]).toBeCloseTo(30, 5);
    tf.dispose([...grads.values()]);
    expect(acc.full).toBe(false);
    acc.add(new Map([['a.weight', tf.tensor1d([1, 1])]]), 0);
    acc.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => new GradAccumulator(0)).toThrow(/accumSteps must be a positive integer, got 0/);
  });

  test('checkLoss names the iteration, batch and file', () => {
    expect(() => checkLoss(1.5, { iteration: 3, epoch: 0, batch: 2, workDir: '/w' })).not.toThrow();
    expect(() => checkLoss(NaN, { iteration: 3, epoch: 1, batch: 2, file: 'a.png', workDir: '/w' })).toThrow(
      /loss became NaN at iteration 3 \(epoch 1, batch 2, first file a\.png\); stopping without overwriting the last good state in \/w/,
    );
  });
});
