/** Runs that would silently go wrong are refused with the numbers; the most basic error is reported first; messages point at the real cause. */
import { describe, expect, test, beforeAll, vi } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/init.js';
import { loadPretrainConfig } from '../../src/config/resolve.js';
import { loadSegConfig } from '../../src/config/seg.js';
import { DEFAULT_PRETRAIN_CONFIG, DEFAULT_SEG_CONFIG } from '../../src/config/defaults.js';
import { segTrainCommand } from '../../src/commands/seg-train.js';
import { clsTrainCommand } from '../../src/commands/cls-train.js';
import { loadSegMeta } from '../../src/data/seg/ade20k.js';
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import { runClsTrain } from '../../src/engine/run-cls.js';
import { smallClsDataset, tinyClsConfig } from '../cls/helpers.js';
import { tempDir } from '../engine/temp-dirs.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

const pretrain = (...o: string[]) => loadPretrainConfig(DEFAULT_PRETRAIN_CONFIG, { cfgOptions: o });

describe('schedule checks', () => {
  test('a zero-length run and an all-warm-up schedule are refused with the numbers', async () => {
    await expect(pretrain('schedule.epochs=0')).rejects.toThrow(/schedule\.epochs is 0: a zero-length run trains nothing/);
    await expect(pretrain('schedule.epochs=1')).rejects.toThrow(/schedule\.warmupEpochs 2 >= schedule\.epochs 1: the whole run would be LinearLR warm-up.*schedule\.warmupEpochs=0/);
    await expect(pretrain('schedule.epochs=2', 'schedule.warmupEpochs=0')).resolves.toBeDefined();
    await expect(loadSegConfig(DEFAULT_SEG_CONFIG, { cfgOptions: ['schedule.maxIters=20'] })).rejects.toThrow(/schedule\.warmupIters 30 >= schedule\.maxIters 20/);
    await expect(loadSegConfig(DEFAULT_SEG_CONFIG, { cfgOptions: ['schedule.maxIters=0'] })).rejects.toThrow(/schedule\.maxIters is 0: a zero-length run/);
  });

  test("seg-train: a missing --backbone is reported before the schedule check", async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    await expect(
      segTrainCommand().exitOverride().parseAsync(['--backbone', '/no/such.ckpt', '--cfg-options', 'schedule.maxIters=20'], { from: 'user' }),
    ).rejects.toThrow('--backbone /no/such.ckpt: no such file or directory');
    vi.restoreAllMocks();
  });
});

describe('messages name the real cause', () => {
  test("an unknown --cfg-options key gets 'did you mean' and the keys of its section", async () => {
    await expect(pretrain('schedule.epoch=3')).rejects.toThrow(/unknown config key 'schedule\.epoch'\. did you mean 'schedule\.epochs'\? Keys of 'schedule': epochs, warmupEpochs, warmupStartFactor, etaMin/);
    await expect(pretrain('modle.arch=base')).rejects.toThrow(/unknown config key 'modle\.arch'\. did you mean 'model'\?/);
  });

  test('a missing seg dataset root is named, not reported as a class-count mismatch with ADE20K', async () => {
    await expect(loadSegMeta('/nonexistent-mff-root')).rejects.toThrow('/nonexistent-mff-root: dataset root not found');
  });

  test('cls-train --backbone <seg checkpoint> names its task; the failed run leaves no work dir', async () => {
    const dir = tempDir('mff-checks-');
    const seg = join(dir, 'seg.ckpt');
    saveCheckpoint(seg, new Map(), { format_version: 1, task: 'seg' });
    await expect(clsTrainCommand().exitOverride().parseAsync(['--backbone', seg, '--work-dir', join(dir, 'a')], { from: 'user' })).rejects.toThrow(
      /seg\.ckpt: a 'seg' checkpoint \(mff seg-train.*--backbone takes a pretraining checkpoint/,
    );
    // the same through the config's `pretrained` (the check runs once the work dir exists): no empty work dir left
    const workDir = join(dir, 'run');
    const cfg = tinyClsConfig('linear', { pretrained: seg, workDir, batchSize: 4 });
    cfg.data.root = smallClsDataset(2, 2);
    await expect(runClsTrain(cfg, { quiet: true })).rejects.toThrow(/a 'seg' checkpoint/);
    expect(existsSync(workDir)).toBe(false);
  });
});
