/** End-to-end pretraining: outputs, resume equivalence, accumulation, leaks, NaN guard. */
import { describe, expect, test, beforeAll } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { runPretrain } from '../../src/engine/run-pretrain.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { smallDataset, tinyConfig } from './helpers.js';
import { pngStats } from '../helpers/png.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

const root = smallDataset(3, 8); // 24 images, batch 8 -> 3 it/epoch, 2 epochs -> 6 iterations

function tensorsOf(file: string): Map<string, number[]> {
  const ck = loadCheckpoint(file);
  return new Map([...ck.tensors].map(([k, v]) => [k, Array.from(v.data)]));
}

describe('runPretrain', () => {
  test('writes checkpoint (mmpretrain keys + metadata), metrics, summary, plots, config; no tensor leak', async () => {
    const cfg = tinyConfig(root, { reconInterval: 1 });
    const before = tf.memory().numTensors;
    const s = await runPretrain(cfg, { quiet: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(s.iterations).toBe(6);
    expect(s.total_iterations).toBe(6);
    expect(Number.isFinite(s.final_loss)).toBe(true);
    expect(s.fusion_weights!.map((f) => f.block)).toEqual([0, 2]);
    const ck = loadCheckpoint(join(cfg.workDir, cfg.checkpointName));
    expect(ck.meta!.task).toBe('pretrain');
    expect(ck.meta!.iteration).toBe(6);
    expect([...ck.tensors.keys()].slice(0, 4)).toEqual(['backbone.cls_token', 'backbone.pos_embed', 'backbone.proj_weights', 'backbone.patch_embed.projection.weight']);
    expect(ck.tensors.get('backbone.layers.0.attn.qkv.weight')!.shape).toEqual([96, 32]); // PyTorch [3D, D]
    expect(ck.tensors.get('backbone.patch_embed.projection.weight')!.shape).toEqual([32, 3, 4, 4]); // [D, C, p, p]
    const lines = readFileSync(join(cfg.workDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.iter)).toEqual([1, 2, 3, 4, 5, 6]);
    // tensor count is constant from step to step
    expect(new Set(lines.map((l) => l.tensors)).size).toBe(1);
    // lr: LinearLR warmup over the first epoch (3 iterations) from 0.1x, then cosine to 0
    const lr = (1e-2 * 8) / 256;
    expect(lines[0].lr).toBeCloseTo(lr * 0.1, 12);
    expect(lines[2].lr).toBeCloseTo(lr, 12);
    expect(lines[3].lr).toBeCloseTo(lr, 12);
    expect(lines[5].lr).toBeCloseTo((lr * (1 + Math.cos((Math.PI * 2) / 3))) / 2, 12);
    for (const f of ['summary.json', 'summary.md', 'config.json']) expect(existsSync(join(cfg.workDir, f)), f).toBe(true);
    for (const f of ['loss-curve.png', 'fusion-weights.png']) {
      const st = await pngStats(join(cfg.workDir, f));
      expect([st.format, st.width, st.height, st.stdev > 10], f).toEqual(['png', 800, 500, true]);
    }
    expect(readFileSync(join(cfg.workDir, 'summary.md'), 'utf8')).toContain('Fusion weights');
    // reconstruction grids every epoch (reconInterval 1) and at the end: 8 rows of 4 panels, not blank
    expect(readdirSync(join(cfg.workDir, 'recon')).sort()).toEqual(['epoch_1.png', 'epoch_2.png']);
    const grid = await pngStats(join(cfg.workDir, 'recon', 'epoch_2.png'));
    expect([grid.width, grid.height]).toEqual([4 * 160 + 5 * 6, 44 + 8 * 166 + 6]); // 16 px panels × 10
    expect(grid.stdev).toBeGreaterThan(10);
    // a finished run leaves no resume state behind
    expect(existsSync(join(cfg.workDir, 'resume.safetensors'))).toBe(false);
  });

  test('interrupted + --resume gives exactly the uninterrupted result', async () => {
    const full = tinyConfig(root);
    await runPretrain(full, { quiet: true });
    const part = tinyConfig(root, { maxIters: 4 }); // stops at 4 (not a checkpointInterval multiple boundary issue: saves on stop)
    const s1 = await runPretrain(part, { quiet: true });
    expect(s1.iterations).toBe(4);
    expect(existsSync(join(part.workDir, 'resume.safetensors'))).toBe(true);
    const s2 = await runPretrain({ ...part, maxIters: 0 }, { quiet: true, resume: true });
    expect(s2.iterations).toBe(6);
    const a = tensorsOf(join(full.workDir, full.checkpointName));
    const b = tensorsOf(join(part.workDir, part.checkpointName));
    for (const [k, v] of a) expect(b.get(k), k).toEqual(v);
    const la = readFileSync(join(full.workDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
    const lb = readFileSync(join(part.workDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
    expect(lb).toEqual(la);
  });

  test('a resume state saved at a checkpoint interval (kill -9 case) resumes exactly', async () => {
    const full = tinyConfig(root);
    await runPretrain(full, { quiet: true });
    // simulate a crash after iteration 3: the last periodic save is iteration 2 (checkpointInterval 2)
    const part = tinyConfig(root, { maxIters: 2 });
    await runPretrain(part, { quiet: true });
    const s = await runPretrain({ ...part, maxIters: 0 }, { quiet: true, resume: true });
    expect(s.iterations).toBe(6);
    const a = tensorsOf(join(full.workDir, full.checkpointName));
    const b = tensorsOf(join(part.workDir, part.checkpointName));
    for (const [k, v] of a) expect(b.get(k), k).toEqual(v);
  });

  test('gradient accumulation: batch 4 × 2 steps runs the same schedule as batch 8', async () => {
    const cfg = tinyConfig(root, { batchSize: 4, accumSteps: 2 });
    const s = await runPretrain(cfg, { quiet: true });
    expect(s.iterations).toBe(6);
    expect(s.effective_batch).toBe(8);
  });

  test('NaN guard stops with a message and keeps the last good resume state', async () => {
    const cfg = tinyConfig(root, { optim: { type: 'AdamW', baseLr: 1e36, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.05 }, checkpointInterval: 1 });
    cfg.schedule = { ...cfg.schedule, warmupEpochs: 0 };
    const err: Error = await runPretrain(cfg, { quiet: true }).then(() => new Error('no error'), (e: Error) => e);
    const m = /loss became (NaN|Infinity|-Infinity) at iteration (\d+) \(epoch \d+, batch \d+, first file .*\.png\)/.exec(err.message);
    expect(m, err.message).not.toBeNull();
    // iteration 0 starts from the finite init, so the periodic save (checkpointInterval 1) of the last good step exists
    const ck = loadCheckpoint(join(cfg.workDir, 'resume.safetensors'));
    expect(ck.meta!.iteration).toBe(Number(m![2]));
    for (const [k, v] of ck.tensors) if (!k.startsWith('optimizer.')) expect(v.data.every(Number.isFinite), k).toBe(true);
  });
});
