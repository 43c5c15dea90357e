/** seg-train / seg-eval end to end on a tiny UperNet and a few bundled scenes. */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { initBackend } from '../../src/backend/init.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { runSegEval, runSegTrain, type SegTrainSummary } from '../../src/engine/run-seg.js';
import { segEvalCommand } from '../../src/commands/seg-eval.js';
import { pngStats } from '../helpers/png.js';
import { loadSegLabel, loadSegMeta, scanSegDataset } from '../../src/data/seg/ade20k.js';
import { readLabelPng, reduceZeroLabel, writeLabelPng } from '../../src/data/seg/labels.js';
import { IoUAccumulator } from '../../src/metrics/iou.js';
import { serializeSafetensors } from '../../src/io/safetensors.js';
import type { SegConfig } from '../../src/config/seg.js';
import { smallScenes, tinySegConfig } from './helpers.js';

let root: string;
let cfg: SegConfig;
let summary: SegTrainSummary;

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
  root = smallScenes(8, 4);
  cfg = tinySegConfig(root);
  summary = await runSegTrain(cfg, { quiet: true });
});

afterEach(() => vi.restoreAllMocks());

describe('seg-train', () => {
  test('writes seg.ckpt with mmseg keys, BN running stats and self-describing metadata', () => {
    const ck = loadCheckpoint(summary.checkpoint);
    const keys = [...ck.tensors.keys()];
    for (const prefix of ['backbone.', 'neck.', 'decode_head.', 'auxiliary_head.']) expect(keys.some((k) => k.startsWith(prefix)), prefix).toBe(true);
    for (const k of ['backbone.layers.0.attn.qkv.weight', 'neck.upsample_4x.0.weight', 'decode_head.conv_seg.weight', 'decode_head.bottleneck.bn.running_mean',
      'decode_head.bottleneck.bn.running_var', 'decode_head.bottleneck.bn.num_batches_tracked', 'auxiliary_head.convs.0.conv.weight']) {
      expect(keys, k).toContain(k);
    }
    // 4 training steps moved the BN statistics off their init
    expect(Array.from(ck.tensors.get('decode_head.bottleneck.bn.num_batches_tracked')!.data)).toEqual([4]);
    expect(Array.from(ck.tensors.get('decode_head.bottleneck.bn.running_var')!.data).some((v) => v !== 1)).toBe(true);
    expect(ck.meta).toMatchObject({ task: 'seg', iteration: 4, reduce_zero_label: true });
    expect((ck.meta!.classes as string[])[1]).toBe('T-shirt/top');
    expect((ck.meta!.palette as number[][]).length).toBe(11);
    expect((ck.meta!.config as SegConfig).model.backbone.embedDims).toBe(16);
  });

  test('writes metrics.jsonl, summary.json/md with the metrics table, loss curve and comparisons', async () => {
    const wd = cfg.workDir;
    const lines = readFileSync(join(wd, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => 'loss' in l).map((l) => l.iter)).toEqual([1, 2, 3, 4]);
    expect(lines.at(-1)).toHaveProperty('val_mIoU');
    const s = JSON.parse(readFileSync(join(wd, 'summary.json'), 'utf8'));
    expect(s.metrics.mIoU).toBe(summary.metrics!.mIoU);
    expect(s.eval.model_img_per_s).toBeGreaterThan(0);
    expect(s.eval.loader_img_per_s).toBeGreaterThan(0);
    const md = readFileSync(join(wd, 'summary.md'), 'utf8');
    expect(md).toContain('| aAcc | mIoU | mAcc |');
    expect(md).toContain('| T-shirt/top |');
    expect(md).toMatch(/!\[scene_val_0000\.png\]\(vis\/scene_val_0000\.png\)/);
    const curve = await pngStats(join(wd, 'loss-curve.png'));
    expect([curve.format, curve.width, curve.height, curve.stdev > 10]).toEqual(['png', 800, 500, true]);
    expect(readdirSync(join(wd, 'vis')).length).toBe(4);
    expect(existsSync(join(wd, 'resume.safetensors'))).toBe(false);
  });

  test('resume after an interruption ends with the same weights as an uninterrupted run', async () => {
    const c = tinySegConfig(root);
    // stop after the 2nd step (the loop checks the flag at step boundaries)
    const poll = setInterval(() => {
      const f = join(c.workDir, 'metrics.jsonl');
      if (existsSync(f) && readFileSync(f, 'utf8').trim().split('\n').length >= 2) {
        clearInterval(poll);
        process.emit('SIGINT');
      }
    }, 1);
    const first = await runSegTrain(c, { quiet: true });
    clearInterval(poll);
    expect(first.interrupted).toBe(true);
    expect(first.iterations).toBeLessThan(4);
    expect(existsSync(join(c.workDir, 'resume.safetensors'))).toBe(true);
    const second = await runSegTrain(c, { quiet: true, resume: true, noEval: true });
    expect(second.iterations).toBe(4);
    const a = loadCheckpoint(summary.checkpoint).tensors;
    const b = loadCheckpoint(second.checkpoint).tensors;
    for (const [k, t] of a) expect(Array.from(b.get(k)!.data), k).toEqual(Array.from(t.data));
  });
});

describe('seg-eval', () => {
  test('prints the metrics; the saved prediction PNGs re-evaluate to the same mIoU', async () => {
    const out = join(cfg.workDir, 'preds');
    const vis = join(cfg.workDir, 'show');
    const logs: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: string) => void logs.push(s));
    const errs: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: string) => void errs.push(String(s)));
    await segEvalCommand().parseAsync(['--checkpoint', summary.checkpoint, '--out-dir', out, '--show-dir', vis, '--concurrency', '3', '--metrics', 'mIoU', 'mDice', '--work-dir', join(cfg.workDir, 'eval')], { from: 'user' });
    // one report: summary line then table on stderr (the metrics once), one JSON line on stdout
    expect(logs).toHaveLength(1);
    const printed = JSON.parse(logs[0]);
    const text = errs.join('\n');
    expect(text).toContain('T-shirt/top');
    expect(text.split(`mIoU: ${printed.mIoU.toFixed(4)}`)).toHaveLength(2);
    expect(text.indexOf('mIoU:')).toBeLessThan(text.indexOf('T-shirt/top'));
    expect(printed.images).toBe(4);
    expect(printed.mIoU).toBe(summary.metrics!.mIoU);
    expect(printed).toHaveProperty('mDice');
    expect(printed.loader_img_per_s).toBeGreaterThan(0);

    const meta = await loadSegMeta(root);
    const ds = await scanSegDataset(root, 'validation', { meta });
    const acc = new IoUAccumulator(meta.classes.length);
    for (const s of ds.samples) {
      const rel = relative(join(root, 'images', 'validation'), s.img).replace(/\.jpg$/, '.png');
      const pred = await readLabelPng(join(out, rel));
      expect(Math.min(...pred.data), 'annotation convention: classes stored +1').toBeGreaterThanOrEqual(1);
      const gt = await loadSegLabel(s.ann, meta);
      expect([pred.width, pred.height]).toEqual([gt.width, gt.height]);
      acc.add(reduceZeroLabel(pred.data), gt.data);
      // image | ground truth | prediction, enlarged to >= 256 px, not blank
      const st = await pngStats(join(vis, rel));
      const scale = Math.max(1, Math.floor(256 / Math.max(gt.width, gt.height)));
      expect([st.format, st.width]).toEqual(['png', 3 * gt.width * scale + 32]);
      expect(st.height).toBeGreaterThan(gt.height * scale);
      expect(st.stdev).toBeGreaterThan(10);
    }
    expect(acc.compute(['mIoU']).metrics).toEqual({ aAcc: printed.aAcc, mIoU: printed.mIoU, mAcc: printed.mAcc });
    const s = JSON.parse(readFileSync(join(cfg.workDir, 'eval', 'summary.json'), 'utf8'));
    expect(s.metrics.mIoU).toBe(printed.mIoU);
  });

  test('a bare state dict (converted mmseg checkpoint) evaluates with --config, and fails clearly without', async () => {
    const ck = loadCheckpoint(summary.checkpoint);
    const bare = join(cfg.workDir, 'bare.safetensors');
    writeFileSync(bare, serializeSafetensors(ck.tensors, { format: 'pt' }));
    await expect(runSegEval(bare, { quiet: true })).rejects.toThrow(/bare\.safetensors: bare state dict .* --config/);
    const cfgFile = join(cfg.workDir, 'tiny-config.mjs');
    writeFileSync(cfgFile, `export default ${JSON.stringify(cfg)};\n`);
    const r = await runSegEval(bare, { quiet: true, config: cfgFile });
    expect(r.metrics.mIoU).toBe(summary.metrics!.mIoU);
    // a config that does not describe the checkpoint names the missing keys
    const wrong = join(cfg.workDir, 'wrong-config.mjs');
    writeFileSync(wrong, `export default ${JSON.stringify({ ...cfg, model: { ...cfg.model, backbone: { ...cfg.model.backbone, numLayers: 5, outIndices: [0, 1, 2, 4] } } })};\n`);
    await expect(runSegEval(bare, { quiet: true, config: wrong })).rejects.toThrow(/bare\.safetensors: checkpoint does not fit the config; missing \d+ keys: backbone\.layers\.4\./);
  });
});

describe('seg-eval test_cfg', () => {
  test('slide inference at 64 px with 32 px windows; whole at a non-model size is refused', async () => {
    const scale = 'data.testScale=[256,64]';
    const r = await runSegEval(summary.checkpoint, { quiet: true, cfgOptions: [scale, 'testCfg={"mode":"slide","crop":[32,32],"stride":[16,16]}'] });
    expect(r.numImages).toBe(4);
    expect(r.metrics.aAcc).toBeGreaterThan(0);
    await expect(runSegEval(summary.checkpoint, { quiet: true, cfgOptions: [scale] })).rejects.toThrow(/scene_val_0000\.jpg: resized to 64x64 .* whole inference needs exactly 32x32; use testCfg mode 'slide'/);
  });
});

describe('bad data gives a clear error naming the file', () => {
  const evalOn = (r: string) => runSegEval(summary.checkpoint, { quiet: true, data: r });
  const val = (r: string, kind: string, i = 1) => join(r, kind, 'validation', `scene_val_000${i}.${kind === 'images' ? 'jpg' : 'png'}`);

  test('missing annotation', async () => {
    const r = smallScenes(0, 3);
    rmSync(val(r, 'annotations'));
    await expect(evalOn(r)).rejects.toThrow(`${val(r, 'images')}: missing annotation ${val(r, 'annotations')}`);
  });

  test('image / annotation size mismatch', async () => {
    const r = smallScenes(0, 3);
    await writeLabelPng(val(r, 'annotations'), new Uint8Array(32 * 32).fill(1), 32, 32);
    await expect(evalOn(r)).rejects.toThrow(`${val(r, 'annotations')}: annotation is 32x32 but image ${val(r, 'images')} is 64x64`);
  });

  test('label value >= num_classes (not 255)', async () => {
    const r = smallScenes(0, 3);
    const d = new Uint8Array(64 * 64).fill(1);
    d[5] = 50;
    await writeLabelPng(val(r, 'annotations'), d, 64, 64);
    await expect(evalOn(r)).rejects.toThrow(new RegExp(`${val(r, 'annotations')}: label value 49 \\(stored value 50`));
  });

  test('corrupt images fail (eval and train loaders) instead of hanging', async () => {
    const r = smallScenes(8, 3);
    writeFileSync(val(r, 'images'), Buffer.from('not a jpeg at all'));
    await expect(evalOn(r)).rejects.toThrow(`${val(r, 'images')}: cannot decode image`);
    const bad = join(r, 'images', 'training', 'scene_train_0002.jpg');
    writeFileSync(bad, readFileSync(bad).subarray(0, 100));
    await expect(runSegTrain(tinySegConfig(r), { quiet: true })).rejects.toThrow(`${bad}: cannot decode image`);
  }, 30_000);

  test('dataset classes that do not match the model', async () => {
    const r = smallScenes(0, 2);
    const meta = JSON.parse(readFileSync(join(r, 'meta.json'), 'utf8'));
    writeFileSync(join(r, 'meta.json'), JSON.stringify({ ...meta, classes: meta.classes.slice(0, 5), palette: meta.palette.slice(0, 5) }));
    await expect(evalOn(r)).rejects.toThrow(`${join(r, 'meta.json')}: dataset has 5 classes but model.decodeHead.numClasses is 11`);
  });
});
