/**
 * Experiment: does MFF pretraining help segmentation? One command runs the whole protocol:
 *
 *   1. MFF self-supervised pretraining (no labels) of the default mini ViT (the ViT dims of the seg config), by default
 *      on the *unlabeled training images of the target domain* — the 200 datasets/scenes-mini/images/training/*.jpg —
 *      the way MAE/MFF pretrain on ImageNet images without labels. The pretraining loader wants ImageNet layout, so a
 *      folder of symlinks `<work-dir>/pretrain-data/train/scenes/*.jpg` is built (plus `.../train/fmnist-<class>/*`
 *      with `--pretrain-data scenes+fmnist`). Pipeline: MAE's RandomResizedCrop(32, scale [0.2, 1], bicubic) + flip,
 *      which matches the scale the seg pipeline shows the backbone (64 px scenes resized ×0.25–1 and cropped to 32).
 *      Validation images are never used for pretraining.
 *   2. UperNet seg-train on datasets/scenes-mini with the seg config, for each seed, twice: backbone from the
 *      pretraining checkpoint ("pretrained") and from random init ("scratch"). Both arms use the identical config,
 *      cfg-options, seeds, data order, schedule and iteration count; only the backbone init differs. Nothing is tuned
 *      on the validation set per arm (one final evaluation per run).
 *
 * Prints one JSON line per run (pretrain + each seg run) and a summary line (mean mIoU/aAcc/mAcc per arm and the
 * difference), and writes `<work-dir>/results.md` (+ results.json).
 *
 *   npx tsx tools/seg-pretrain-vs-scratch.ts [flags]
 *
 * Flags (defaults in brackets):
 *   --work-dir DIR            output root [work_dirs/seg-pretrain-vs-scratch]; runs go to DIR/pretrain, DIR/<arm>-seed<k>
 *   --pretrain CKPT           skip step 1 and use this MFF/MAE checkpoint
 *   --pretrain-config FILE    pretraining config [the default `npx mff pretrain` config, DEFAULT_PRETRAIN_CONFIG]
 *   --pretrain-data MODE      scenes | scenes+fmnist | config (= the config's own data.root and pipeline) [scenes]
 *   --pretrain-epochs N       pretraining epochs [100: 200 images / batch 64 = 3 steps per epoch -> 300 steps]
 *   --pretrain-warmup N       warmup epochs [10]
 *   --pretrain-base-lr X      optim.baseLr (lr = X × batch / 256) [4e-3 -> lr 1e-3 at batch 64]
 *   --pretrain-cfg-options K=V  extra pretraining overrides (repeatable)
 *   --config FILE             seg config [DEFAULT_SEG_CONFIG, configs/upernet/upernet_mff-vit-mini-p4_1xb8-300i_scenes-mini-32x32.ts]
 *   --iters N                 seg iterations per run [300, the seg config's own schedule]; warmup = N/10
 *   --seeds A,B,...           seg seeds, each run in both arms [0,1]
 *   --layer-decay X           optim.layerDecayRate for both arms [0.9; the config's 0.65 is mmseg's ViT-B/12-block value]
 *   --cfg-options K=V         extra seg overrides for both arms (repeatable)
 *
 * A run whose work dir holds a summary.json and a pvs-key.json matching the current settings is reused, not repeated
 * (so an interrupted protocol can be re-run); delete the dir to force a redo.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadPretrainConfig, DEFAULT_PRETRAIN_CONFIG, packagePath } from '../src/config/resolve.js';
import { runPretrain } from '../src/engine/run-pretrain.js';
import { DEFAULT_SEG_CONFIG, loadSegConfig } from '../src/config/seg.js';
import { runSegTrain } from '../src/engine/run-seg.js';

const { values: a } = parseArgs({
  options: {
    'work-dir': { type: 'string', default: 'work_dirs/seg-pretrain-vs-scratch' },
    pretrain: { type: 'string' },
    'pretrain-config': { type: 'string', default: DEFAULT_PRETRAIN_CONFIG },
    'pretrain-data': { type: 'string', default: 'scenes' },
    'pretrain-epochs': { type: 'string', default: '100' },
    'pretrain-warmup': { type: 'string', default: '10' },
    'pretrain-base-lr': { type: 'string', default: '4e-3' },
    'pretrain-cfg-options': { type: 'string', multiple: true, default: [] },
    config: { type: 'string', default: DEFAULT_SEG_CONFIG },
    iters: { type: 'string', default: '300' },
    seeds: { type: 'string', default: '0,1' },
    'layer-decay': { type: 'string', default: '0.9' },
    'cfg-options': { type: 'string', multiple: true, default: [] },
  },
});
const t0 = Date.now();
const workDir = resolve(a['work-dir']!);
mkdirSync(workDir, { recursive: true });
const iters = Number(a.iters);
if (!Number.isInteger(iters) || iters < 2) throw new Error(`--iters must be an integer >= 2, got '${a.iters}'`);
const seeds = a.seeds!.split(',').map((s) => Number(s.trim()));
if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s))) throw new Error(`--seeds must be integers, got '${a.seeds}'`);
const layerDecay = Number(a['layer-decay']);
if (!(layerDecay > 0 && layerDecay <= 1)) throw new Error(`--layer-decay must be in (0, 1], got '${a['layer-decay']}'`);
const pretrainMode = a['pretrain-data']!;
if (!['scenes', 'scenes+fmnist', 'config'].includes(pretrainMode)) throw new Error(`--pretrain-data: scenes | scenes+fmnist | config, got '${pretrainMode}'`);

const emit = (o: object) => console.log(JSON.stringify(o));

/** `<work-dir>/pretrain-data/train/<class>/*` of symlinks: the unlabeled scene training images (+ Fashion-MNIST mini). */
function buildPretrainData(): string {
  const root = join(workDir, 'pretrain-data');
  rmSync(root, { recursive: true, force: true });
  const scenesDir = packagePath('datasets/scenes-mini/images/training');
  const dst = join(root, 'train', 'scenes');
  mkdirSync(dst, { recursive: true });
  for (const f of readdirSync(scenesDir).filter((f) => f.endsWith('.jpg')).sort()) symlinkSync(join(scenesDir, f), join(dst, f));
  if (pretrainMode === 'scenes+fmnist') {
    const fm = packagePath('datasets/fashion-mnist-mini/train');
    for (const cls of readdirSync(fm).sort()) symlinkSync(join(fm, cls), join(root, 'train', `fmnist-${cls}`));
  }
  return root;
}

async function pretrainCheckpoint(): Promise<{ file: string; info: Record<string, unknown> }> {
  if (a.pretrain) {
    const file = resolve(a.pretrain);
    const sf = join(dirname(file), 'summary.json');
    const s = existsSync(sf) ? JSON.parse(readFileSync(sf, 'utf8')) : null;
    const info = { run: 'pretrain', given: true, checkpoint: file, ...(s ? { images: s.dataset?.images, iterations: s.iterations, lr: s.lr, final_loss: s.final_loss, mean_loss_last_epoch: s.mean_loss_last_epoch } : {}) };
    emit(info);
    return { file, info };
  }
  const opts = [
    `schedule.epochs=${a['pretrain-epochs']}`,
    `schedule.warmupEpochs=${a['pretrain-warmup']}`,
    `optim.baseLr=${a['pretrain-base-lr']}`,
  ];
  if (pretrainMode !== 'config') {
    opts.push('data.pipeline={"kind":"random-resized-crop","size":32,"scale":[0.2,1],"flip":true,"interp":"bicubic"}');
  }
  opts.push(...a['pretrain-cfg-options']!);
  const data = pretrainMode === 'config' ? undefined : buildPretrainData();
  const cfg = await loadPretrainConfig(a['pretrain-config']!, { workDir: join(workDir, 'pretrain'), data, cfgOptions: opts });
  const file = join(cfg.workDir, cfg.checkpointName);
  const summaryFile = join(cfg.workDir, 'summary.json');
  const key = JSON.stringify({ config: a['pretrain-config'], data: pretrainMode, opts });
  const keyFile = join(cfg.workDir, 'pvs-key.json');
  if (existsSync(file) && existsSync(summaryFile) && existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key) {
    const s = JSON.parse(readFileSync(summaryFile, 'utf8'));
    const info = { run: 'pretrain', cached: true, checkpoint: file, images: s.dataset?.images, iterations: s.iterations, lr: s.lr, final_loss: s.final_loss, mean_loss_last_epoch: s.mean_loss_last_epoch, wall_time_s: s.wall_time_s };
    emit(info);
    return { file, info };
  }
  const s = await runPretrain(cfg, { configFile: a['pretrain-config'], quiet: true });
  writeFileSync(keyFile, key);
  const info = {
    run: 'pretrain', config: a['pretrain-config'], data: pretrainMode, cfg_options: opts, checkpoint: s.checkpoint, images: s.dataset.images,
    iterations: s.iterations, lr: s.lr, final_loss: s.final_loss, mean_loss_last_epoch: s.mean_loss_last_epoch, wall_time_s: s.wall_time_s, backend: s.backend,
  };
  emit(info);
  return { file: s.checkpoint, info };
}

const pre = await pretrainCheckpoint();
const segOptions = [
  `schedule.maxIters=${iters}`,
  `schedule.warmupIters=${Math.max(1, Math.round(iters / 10))}`,
  `optim.layerDecayRate=${layerDecay}`,
  ...a['cfg-options']!,
];
type Run = { arm: 'pretrained' | 'scratch'; seed: number; mIoU: number; aAcc: number; mAcc: number; final_loss: number; wall_time_s: number; backend?: string };
const runs: Run[] = [];
for (const seed of seeds) {
  for (const arm of ['pretrained', 'scratch'] as const) {
    const runDir = join(workDir, `${arm}-seed${seed}`);
    const cfg = await loadSegConfig(a.config!, {
      workDir: runDir,
      backbone: arm === 'pretrained' ? pre.file : undefined,
      cfgOptions: [...segOptions, `seed=${seed}`],
    });
    let r: Run;
    const summaryFile = join(runDir, 'summary.json');
    const keyFile = join(runDir, 'pvs-key.json');
    const key = JSON.stringify({ config: a.config, init: arm === 'pretrained' ? pre.info : 'random', opts: segOptions, seed });
    if (existsSync(summaryFile) && existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key) {
      const s = JSON.parse(readFileSync(summaryFile, 'utf8'));
      r = { arm, seed, ...s.metrics, final_loss: s.final_loss, wall_time_s: s.wall_time_s, backend: s.backend };
    } else {
      const s = await runSegTrain(cfg, { configFile: a.config, quiet: true });
      writeFileSync(keyFile, key);
      r = { arm, seed, ...(s.metrics as { mIoU: number; aAcc: number; mAcc: number }), final_loss: s.final_loss, wall_time_s: s.wall_time_s, backend: s.backend };
    }
    runs.push(r);
    emit({ run: `${arm}-seed${seed}`, init: arm === 'pretrained' ? pre.file : 'random', iterations: iters, ...r });
  }
}

const mean = (arm: string, k: 'mIoU' | 'aAcc' | 'mAcc') => {
  const v = runs.filter((r) => r.arm === arm).map((r) => r[k]);
  return Number((v.reduce((s, x) => s + x, 0) / v.length).toFixed(2));
};
const perSeedDelta = seeds.map((seed) => {
  const p = runs.find((r) => r.arm === 'pretrained' && r.seed === seed)!;
  const s = runs.find((r) => r.arm === 'scratch' && r.seed === seed)!;
  return Number((p.mIoU - s.mIoU).toFixed(2));
});
const summary = {
  run: 'summary',
  seeds,
  iterations: iters,
  layer_decay: layerDecay,
  pretrained: { mIoU: mean('pretrained', 'mIoU'), aAcc: mean('pretrained', 'aAcc'), mAcc: mean('pretrained', 'mAcc') },
  scratch: { mIoU: mean('scratch', 'mIoU'), aAcc: mean('scratch', 'aAcc'), mAcc: mean('scratch', 'mAcc') },
  delta_mIoU: Number((mean('pretrained', 'mIoU') - mean('scratch', 'mIoU')).toFixed(2)),
  delta_mIoU_per_seed: perSeedDelta,
  wall_time_s: Math.round((Date.now() - t0) / 1000),
};
emit(summary);

const md = [
  `# seg: MFF-pretrained vs random-init backbone`,
  '',
  `- command: \`npx tsx tools/seg-pretrain-vs-scratch.ts ${process.argv.slice(2).join(' ')}\``,
  `- pretraining: ${JSON.stringify(pre.info)}`,
  `- seg config: ${a.config}, cfg-options (both arms): ${segOptions.join(' ')}, seeds ${seeds.join(', ')}`,
  `- machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average at end ${loadavg().map((x) => x.toFixed(1)).join(' ')}; backend ${runs[0]?.backend ?? '?'}`,
  `- total wall time: ${summary.wall_time_s} s (including cached runs' reuse)`,
  '',
  '| arm | seed | mIoU | aAcc | mAcc | final loss | wall s |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...runs.map((r) => `| ${r.arm} | ${r.seed} | ${r.mIoU.toFixed(2)} | ${r.aAcc.toFixed(2)} | ${r.mAcc.toFixed(2)} | ${r.final_loss.toFixed(4)} | ${Math.round(r.wall_time_s)} |`),
  `| **pretrained mean** | | **${summary.pretrained.mIoU.toFixed(2)}** | ${summary.pretrained.aAcc.toFixed(2)} | ${summary.pretrained.mAcc.toFixed(2)} | | |`,
  `| **scratch mean** | | **${summary.scratch.mIoU.toFixed(2)}** | ${summary.scratch.aAcc.toFixed(2)} | ${summary.scratch.mAcc.toFixed(2)} | | |`,
  '',
  `Δ mIoU (pretrained − scratch): mean ${summary.delta_mIoU >= 0 ? '+' : ''}${summary.delta_mIoU}, per seed ${perSeedDelta.map((d) => (d >= 0 ? '+' : '') + d).join(', ')}`,
  '',
].join('\n');
writeFileSync(join(workDir, 'results.md'), md);
writeFileSync(join(workDir, 'results.json'), JSON.stringify({ pretrain: pre.info, runs, summary }, null, 2));
