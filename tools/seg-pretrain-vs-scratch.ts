/**
 * Experiment: does MFF pretraining help segmentation? Trains the default scenes UperNet config twice with identical
 * seeds, data order and schedule: once with the backbone from an MFF pretraining checkpoint, once from random init.
 * Prints one JSON line per run and one with the difference.
 *
 *   npx tsx tools/seg-pretrain-vs-scratch.ts [--pretrain work_dirs/.../vit-mini-mff.ckpt] [--iters 150] [--work-dir work_dirs/seg-pvs]
 *
 * Without --pretrain, the default MFF pretraining config (configs/mff/mff_vit-mini-p4_1xb64-coslr-6e_fashion-mnist.ts,
 * same ViT dims and patch as the seg config) is run first (a few minutes on 2 cores), unless its checkpoint exists.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPretrainConfig, DEFAULT_PRETRAIN_CONFIG } from '../src/config/resolve.js';
import { runPretrain } from '../src/engine/run-pretrain.js';
import { DEFAULT_SEG_CONFIG, loadSegConfig } from '../src/config/seg.js';
import { runSegTrain } from '../src/engine/run-seg.js';

const { values: a } = parseArgs({
  options: {
    pretrain: { type: 'string' },
    iters: { type: 'string', default: '150' },
    'work-dir': { type: 'string', default: 'work_dirs/seg-pretrain-vs-scratch' },
    config: { type: 'string', default: DEFAULT_SEG_CONFIG },
    'cfg-options': { type: 'string', multiple: true, default: [] },
  },
});
const workDir = resolve(a['work-dir']!);
const iters = Number(a.iters);
if (!Number.isInteger(iters) || iters < 2) throw new Error(`--iters must be an integer >= 2, got '${a.iters}'`);

async function pretrainCheckpoint(): Promise<string> {
  if (a.pretrain) return resolve(a.pretrain);
  const cfg = await loadPretrainConfig(DEFAULT_PRETRAIN_CONFIG, { workDir: join(workDir, 'pretrain') });
  const file = join(cfg.workDir, cfg.checkpointName);
  if (existsSync(file)) return file;
  const s = await runPretrain(cfg, { configFile: DEFAULT_PRETRAIN_CONFIG });
  console.log(JSON.stringify({ run: 'pretrain', checkpoint: s.checkpoint, iterations: s.iterations, final_loss: s.final_loss, wall_time_s: s.wall_time_s }));
  return s.checkpoint;
}

const ckpt = await pretrainCheckpoint();
const results: Record<string, Record<string, number>> = {};
for (const run of ['pretrained', 'scratch'] as const) {
  const cfg = await loadSegConfig(a.config!, {
    workDir: join(workDir, run),
    backbone: run === 'pretrained' ? ckpt : undefined,
    cfgOptions: [`schedule.maxIters=${iters}`, `schedule.warmupIters=${Math.max(1, Math.round(iters / 10))}`, ...a['cfg-options']!],
  });
  const s = await runSegTrain(cfg, { configFile: a.config });
  results[run] = s.metrics!;
  console.log(JSON.stringify({ run, init: s.pretrained ?? 'random', iterations: s.iterations, ...s.metrics, final_loss: s.final_loss, train_img_per_s: s.train_img_per_s, wall_time_s: s.wall_time_s }));
}
const d = (k: string) => Number((results.pretrained[k] - results.scratch[k]).toFixed(2));
console.log(JSON.stringify({ run: 'delta (pretrained - scratch)', mIoU: d('mIoU'), aAcc: d('aAcc'), mAcc: d('mAcc') }));
