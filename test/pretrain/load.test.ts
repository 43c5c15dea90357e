/** mmpretrain state dicts (converted .pth -> safetensors, no metadata) load with an explicit config. */
import { describe, expect, test, beforeAll } from 'vitest';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/init.js';
import { runPretrain } from '../../src/engine/run-pretrain.js';
import { runPretrainEval } from '../../src/engine/eval-pretrain.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { goldenPath, loadFixture, pretrainModelConfig } from '../helpers/golden.js';
import { BUNDLED, smallDataset, tinyConfig } from './helpers.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

const fx = loadFixture('mff-pretrain');
const c = fx.config;
const weights = goldenPath(fx.weights!);

function fixtureConfig(root: string) {
  const cfg = tinyConfig(root, { maxIters: 1 });
  cfg.model = pretrainModelConfig(c); // the MFF fixture
  cfg.data.pipeline = { ...cfg.data.pipeline, size: c.img_size };
  return cfg;
}

describe('loading an mmpretrain state dict', () => {
  test('bare state dict needs a config; with one, tools/test-style evaluation runs', async () => {
    await expect(runPretrainEval(null, weights, { quiet: true })).rejects.toThrow(/no embedded config/);
    const cfg = fixtureConfig(BUNDLED);
    const r = await runPretrainEval(cfg, weights, { quiet: true, split: 'val' });
    expect(r.images).toBe(200);
    expect(Number.isFinite(r.loss) && r.loss > 0).toBe(true);
    // the fixture's fusion logits are unequal: their softmax is reported
    expect(r.fusion_weights!.length).toBe(c.out_indices.length);
    expect(r.fusion_weights!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  test('--load-from continues pretraining from mmpretrain weights (frozen tables unchanged)', async () => {
    const cfg = fixtureConfig(smallDataset(2, 8));
    await runPretrain(cfg, { quiet: true, loadFrom: weights });
    const out = loadCheckpoint(join(cfg.workDir, cfg.checkpointName));
    const src = loadCheckpoint(weights);
    expect([...out.tensors.keys()]).toEqual([...src.tensors.keys()]);
    expect(Array.from(out.tensors.get('backbone.pos_embed')!.data)).toEqual(Array.from(src.tensors.get('backbone.pos_embed')!.data));
    // trained tensors moved away from the loaded values, by a small step
    const a = out.tensors.get('backbone.layers.0.attn.qkv.weight')!.data;
    const b = src.tensors.get('backbone.layers.0.attn.qkv.weight')!.data;
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(0.1);
  });

  test('shape mismatch names the file and key', async () => {
    const cfg = fixtureConfig(smallDataset(2, 8));
    cfg.model.decoder = { ...cfg.model.decoder, embedDims: 32 };
    await expect(runPretrain(cfg, { quiet: true, loadFrom: weights })).rejects.toThrow(/mff-pretrain\.safetensors: 'neck\.mask_token' has shape \[1,1,24\] but the model expects \[1,1,32\]/);
  });
});
