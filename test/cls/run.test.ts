/**
 * End to end on the bundled data: MFF pretraining checkpoint -> fine-tune -> linear probe on that backbone ->
 * cls-eval (checkpoint alone, and bare state dict + config as tools/test.ts uses it) gives the same metrics.
 */
import { describe, expect, test, beforeAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { pngStats } from '../helpers/png.js';
import { initBackend } from '../../src/backend/init.js';
import { runPretrain } from '../../src/engine/run-pretrain.js';
import { runClsTrain, runClsEval, type ClsTrainSummary } from '../../src/engine/run-cls.js';
import { loadCheckpoint, writeFileAtomic } from '../../src/io/checkpoint.js';
import { serializeSafetensors } from '../../src/io/safetensors.js';
import { adoptBackboneModel, type ClsConfig } from '../../src/config/cls.js';
import { clsEvalCommand } from '../../src/commands/cls-eval.js';
import { formatClsMetrics } from '../../src/eval/cls-metrics.js';
import { smallDataset, tinyConfig } from '../pretrain/helpers.js';
import { tinyClsConfig } from './helpers.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

let ft: { cfg: ClsConfig; s: ClsTrainSummary; ckpt: string };

describe('cls-train + cls-eval on fashion-mnist-mini (10 classes, chance 10%)', () => {
  test('fine-tune from an MFF pretraining checkpoint: accuracy well above chance, outputs, no leak', async () => {
    const pre = tinyConfig(smallDataset(3, 8), {
      model: { ...tinyConfig('').model, arch: { embedDims: 32, numLayers: 2, numHeads: 2, feedforwardChannels: 64 }, outIndices: [0, 1] },
      schedule: { epochs: 1, warmupEpochs: 0, warmupStartFactor: 1, etaMin: 0 },
    });
    await runPretrain(pre, { quiet: true });
    const backbone = join(pre.workDir, pre.checkpointName);

    // the recipe's loss (Mixup/CutMix + label smoothing, layer decay) on the weak augmentations a 5-epoch run can use
    const cfg = tinyClsConfig('finetune', {
      pretrained: backbone,
      batchAugments: { mixupAlpha: 0.8, cutmixAlpha: 1.0 },
      optim: { ...tinyClsConfig('finetune').optim, baseLr: 1e-2, layerDecayRate: 0.9 },
      schedule: { epochs: 5, warmupEpochs: 0.5, warmupStartFactor: 1e-4, etaMin: 1e-6 },
      evalInterval: 2,
    });
    cfg.data.trainPipeline = { kind: 'finetune', size: 16, scale: [0.35, 1], flipProb: 0.5, randAugment: false, erasingProb: 0.25 };
    const note = adoptBackboneModel(cfg, loadCheckpoint(backbone).meta);
    expect(note).toContain('16 px, patch 4');
    const before = tf.memory().numTensors;
    const s = await runClsTrain(cfg, { quiet: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(s.iterations).toBe(5 * 31);
    expect(s['accuracy/top1']).toBeGreaterThan(30);
    expect(s['accuracy/top5']).toBeGreaterThan(75);
    expect(s.per_class).toHaveLength(10);
    console.info(`fine-tune: top-1 ${s['accuracy/top1']} top-5 ${s['accuracy/top5']} in ${s.wall_s.toFixed(1)} s`);

    const ck = loadCheckpoint(s.checkpoint);
    expect(ck.meta!.task).toBe('cls');
    expect((ck.meta!.classes as string[])[0]).toBe('Ankle_boot');
    expect(ck.tensors.get('head.fc.weight')!.shape).toEqual([10, 32]);
    expect(ck.tensors.has('backbone.ln2.weight')).toBe(true);
    expect([...ck.tensors.keys()].some((k) => k.includes('proj_layers') || k.startsWith('neck.'))).toBe(false);
    const lines = readFileSync(join(cfg.workDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => 'val/top1' in l).map((l) => l.epoch)).toEqual([2, 4, 5]);
    expect(new Set(lines.filter((l) => 'tensors' in l).map((l) => l.tensors)).size).toBe(1);
    expect(readFileSync(join(cfg.workDir, 'summary.md'), 'utf8')).toContain('Per-class accuracy');
    for (const f of ['loss-curve.png', 'accuracy-curve.png']) {
      const st = await pngStats(join(cfg.workDir, f));
      expect([st.format, st.width, st.height, st.stdev > 10], f).toEqual(['png', 800, 500, true]);
    }
    expect(existsSync(join(cfg.workDir, 'resume.safetensors'))).toBe(false);
    ft = { cfg, s, ckpt: s.checkpoint };
  });

  test('cls-eval: the checkpoint alone, and a bare state dict + config, give the training metrics', async () => {
    const out = join(ft.cfg.workDir, 'preds.jsonl');
    const logs: string[] = [];
    const orig = console.log;
    console.log = (m: string) => logs.push(m);
    const errs: string[] = [];
    const origErr = console.error;
    console.error = (m: string) => errs.push(String(m));
    try {
      await clsEvalCommand().parseAsync(['--checkpoint', ft.ckpt, '--out', out, '--work-dir', join(ft.cfg.workDir, 'eval-val')], { from: 'user' });
    } finally {
      console.log = orig;
      console.error = origErr;
    }
    const ev = JSON.parse(readFileSync(join(ft.cfg.workDir, 'eval-val', 'summary.json'), 'utf8'));
    expect(ev['accuracy/top1']).toBe(ft.s['accuracy/top1']);
    expect(ev['accuracy/top5']).toBe(ft.s['accuracy/top5']);
    // one report: the metrics once as text on stderr, one JSON line on stdout
    expect(errs.join('\n').split(`accuracy/top1: ${ft.s['accuracy/top1'].toFixed(2)}`)).toHaveLength(2);
    expect(logs).toHaveLength(1);
    expect(JSON.parse(logs[0])['accuracy/top1']).toBe(ft.s['accuracy/top1']);
    const preds = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(preds).toHaveLength(200);
    expect(Object.keys(preds[0])).toEqual(['file', 'label', 'class', 'pred_label', 'pred_class', 'pred_score', 'top5']);
    expect(preds[0].file).toMatch(/^val\/Ankle_boot\//);
    expect(preds[0].top5).toHaveLength(5);
    const correct = preds.filter((p) => p.pred_label === p.label).length;
    expect((100 * correct) / 200).toBeCloseTo(ev['accuracy/top1'], 10);

    // an mmpretrain classifier exported to safetensors has no metadata: evaluate with the config (tools/test.ts path)
    const bare = join(ft.cfg.workDir, 'exported.safetensors');
    writeFileAtomic(bare, serializeSafetensors(loadCheckpoint(ft.ckpt).tensors, { format: 'pt' }));
    await expect(runClsEval({ checkpoint: bare, quiet: true })).rejects.toThrow(/no mff metadata .*pass --config/);
    const s2 = await runClsEval({ checkpoint: bare, config: { ...ft.cfg, model: { ...ft.cfg.model, numClasses: 0 } }, quiet: true, workDir: join(ft.cfg.workDir, 'e2') });
    expect(formatClsMetrics({ ...fromSummary(s2) })).toBe(formatClsMetrics(fromSummary(ev)));
  });

  test('linear probe on the fine-tuned backbone (LARS): accuracy well above chance, only the head trained', async () => {
    const cfg = tinyClsConfig('linear', { pretrained: ft.ckpt, schedule: { epochs: 4, warmupEpochs: 0.5, warmupStartFactor: 1e-4, etaMin: 0 } });
    const s = await runClsTrain(cfg, { quiet: true });
    expect(s['accuracy/top1']).toBeGreaterThan(30);
    expect(s.params.trainable).toBe(32 * 10 + 10);
    console.info(`linear: top-1 ${s['accuracy/top1']} top-5 ${s['accuracy/top5']} in ${s.wall_s.toFixed(1)} s`);
    const ck = loadCheckpoint(s.checkpoint);
    const a = ck.tensors.get('backbone.layers.1.attn.qkv.weight')!.data;
    const b = loadCheckpoint(ft.ckpt).tensors.get('backbone.layers.1.attn.qkv.weight')!.data;
    expect(Array.from(a)).toEqual(Array.from(b)); // frozen
    expect(ck.tensors.get('neck.bn.num_batches_tracked')!.data[0]).toBe(4 * 31);
  });
});

function fromSummary(s: Record<string, any>) {
  return {
    images: s.dataset.images,
    topk: s.topk,
    top1: s['accuracy/top1'],
    top5: s['accuracy/top5'],
    meanClassAccuracy: s.mean_class_accuracy,
    perClass: [],
  };
}
