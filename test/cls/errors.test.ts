/** Bad input gives one clear error naming the file or value at fault; resume continues exactly. */
import { describe, expect, test, beforeAll } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/init.js';
import { runClsTrain, runClsEval } from '../../src/engine/run-cls.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { loadClsConfig } from '../../src/config/cls.js';
import { clsTrainCommand } from '../../src/commands/cls-train.js';
import { smallClsDataset, tinyClsConfig } from './helpers.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

const tiny = (root: string, over = {}) => tinyClsConfig('finetune', { ...over, data: { ...tinyClsConfig('finetune').data, root } });

describe('cls-train / cls-eval: bad input', () => {
  test('a class folder with no images', async () => {
    const root = smallClsDataset(2, 4);
    mkdirSync(join(root, 'train', 'Zempty'));
    await expect(runClsTrain(tiny(root, { batchSize: 4 }), { quiet: true })).rejects.toThrow(`class folder ${join(root, 'train', 'Zempty')} has no images`);
  });

  test('an image that does not decode names the file', async () => {
    const root = smallClsDataset(2, 4);
    writeFileSync(join(root, 'train', 'Ankle_boot', 'zz-corrupt.png'), 'not a png');
    await expect(runClsTrain(tiny(root, { batchSize: 9 }), { quiet: true })).rejects.toThrow(/zz-corrupt\.png: cannot decode image/);
  });

  test('a backbone whose shapes do not fit the model', async () => {
    const root = smallClsDataset(2, 4);
    const a = tiny(root, { batchSize: 4, schedule: { epochs: 1, warmupEpochs: 0, warmupStartFactor: 1, etaMin: 0 } });
    const s = await runClsTrain(a, { quiet: true });
    const b = tiny(root, { batchSize: 4, pretrained: s.checkpoint });
    b.model = { ...b.model, arch: { embedDims: 48, numLayers: 2, numHeads: 2, feedforwardChannels: 64 } };
    await expect(runClsTrain(b, { quiet: true })).rejects.toThrow(/cls\.ckpt: '.*' has shape \[.*\] but the model expects/);
    // a checkpoint with fewer blocks than the config
    const c = tiny(root, { batchSize: 4, pretrained: s.checkpoint });
    c.model = { ...c.model, arch: { embedDims: 32, numLayers: 3, numHeads: 2, feedforwardChannels: 64 } };
    await expect(runClsTrain(c, { quiet: true })).rejects.toThrow(/has no weights for backbone\.layers\.2\./);
    // evaluating on a dataset with other classes
    await expect(runClsEval({ checkpoint: s.checkpoint, data: smallClsDataset(3, 2), quiet: true })).rejects.toThrow(/3 class folders, but .*cls\.ckpt has 2 classes/);
    // a pretraining checkpoint is not a classifier
    await expect(runClsEval({ checkpoint: join(root, 'nope.ckpt'), quiet: true })).rejects.toThrow(/nope\.ckpt/);
  });

  test('--mode that contradicts --config, and unknown overrides', async () => {
    await expect(
      clsTrainCommand().exitOverride().parseAsync(['--config', 'configs/mff/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.ts', '--mode', 'linear'], { from: 'user' }),
    ).rejects.toThrow(/--mode linear does not match .*a 'finetune' config/);
    await expect(loadClsConfig('configs/mff/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.ts', { cfgOptions: ['optim.nonsense=1'] })).rejects.toThrow(
      "unknown config key 'optim.nonsense'",
    );
  });
});

describe('resume', () => {
  test('stopped + --resume equals the uninterrupted fine-tune run (drop path, Mixup/CutMix, RandAugment)', async () => {
    const root = smallClsDataset(3, 8); // 24 images, batch 8 -> 3 it/epoch, 2 epochs
    const over = { batchSize: 8, checkpointInterval: 2 };
    const full = tiny(root, over);
    await runClsTrain(full, { quiet: true });
    const part = tiny(root, { ...over, maxIters: 4 });
    expect((await runClsTrain(part, { quiet: true })).iterations).toBe(4);
    const s = await runClsTrain({ ...part, maxIters: 0 }, { quiet: true, resume: true });
    expect(s.iterations).toBe(6);
    const a = loadCheckpoint(join(full.workDir, 'cls.ckpt')).tensors;
    const b = loadCheckpoint(join(part.workDir, 'cls.ckpt')).tensors;
    for (const [k, v] of a) expect(Array.from(b.get(k)!.data), k).toEqual(Array.from(v.data));
    const losses = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'loss' in l).map((l) => l.loss);
    expect(losses(part.workDir)).toEqual(losses(full.workDir));
  });
});
