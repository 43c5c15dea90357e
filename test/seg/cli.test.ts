/** `mff seg-train --backbone <pretrain ckpt>` through the real command parser. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test, vi } from 'vitest';
import { initBackend } from '../../src/backend/init.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { runPretrain } from '../../src/engine/run-pretrain.js';
import { segTrainCommand } from '../../src/commands/seg-train.js';
import { smallDataset, tinyConfig } from '../pretrain/helpers.js';
import { smallScenes, tinySegConfig } from './helpers.js';

afterEach(() => vi.restoreAllMocks());

test('seg-train --backbone loads an MFF pretraining checkpoint (pos_embed resized) and reports loaded/missing/unexpected', async () => {
  await initBackend(undefined, { quiet: true });
  // MFF ViT 32-d × 4 blocks, patch 4 at 16 px (4×4 grid); the seg model uses it at 32 px (8×8 grid)
  const pcfg = tinyConfig(smallDataset(2, 8), { schedule: { epochs: 1, warmupEpochs: 0, warmupStartFactor: 1, etaMin: 0 } });
  pcfg.model.arch = { embedDims: 32, numLayers: 4, numHeads: 2, feedforwardChannels: 64 };
  pcfg.model.outIndices = [1, 3];
  const pre = await runPretrain(pcfg, { quiet: true });

  const root = smallScenes(4, 2);
  const base = tinySegConfig(root);
  const cfg = { ...base, model: { ...base.model, backbone: { ...base.model.backbone, embedDims: 32, numLayers: 4, patchSize: 4, mlpRatio: 2 } } };
  cfg.model.decodeHead.inChannels = [32, 32, 32, 32];
  cfg.model.auxiliaryHead!.inChannels = 32;
  const cfgFile = join(cfg.workDir, 'cfg.mjs');
  writeFileSync(cfgFile, `export default ${JSON.stringify(cfg)};\n`);

  const errs: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((s: string) => void errs.push(String(s)));
  vi.spyOn(console, 'log').mockImplementation(() => {});
  // lr 0: AdamW leaves the weights untouched, so the loaded values can be compared
  await segTrainCommand().parseAsync(['--config', cfgFile, '--backbone', pre.checkpoint, '--no-eval', '--work-dir', join(cfg.workDir, 'run'), '--cfg-options', 'optim.lr=0', '--cfg-options', 'schedule.maxIters=3'], { from: 'user' });
  const line = errs.find((l) => l.includes('backbone from'))!;
  expect(line).toMatch(
    /\(MFF ViT pretraining\): loaded \d+ tensors; pos_embed resized 4x4 -> 8x8; as expected, 16 BEiT-only tensors keep their init \(gamma_1 ×4, gamma_2 ×4, attn\.relative_position_bias_table ×4, attn\.relative_position_index ×4\), \d+ pretraining-only \(.*proj_weights.*\)/,
  );
  expect(errs.some((l) => l.includes('WARNING'))).toBe(false);
  expect(readFileSync(join(cfg.workDir, 'run', 'summary.md'), 'utf8')).toContain('UperNet, MFF ViT 32-d');
  const src = loadCheckpoint(pre.checkpoint).tensors;
  const out = loadCheckpoint(join(cfg.workDir, 'run', 'seg.ckpt'));
  expect(out.meta!.iteration).toBe(3);
  for (const k of ['backbone.layers.2.attn.qkv.weight', 'backbone.patch_embed.projection.weight', 'backbone.cls_token']) {
    expect(Array.from(out.tensors.get(k)!.data), k).toEqual(Array.from(src.get(k)!.data));
  }
});
