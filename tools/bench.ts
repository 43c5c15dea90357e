/**
 * Benchmarks, one JSON line per figure (compare runs by diffing lines):
 *   npm run bench -- [--only sgemm|pretrain|seg-train|seg-eval|loader|seg-train-suite|cls-train-suite|seg-train-ade|seg-train-ade-b|seg-eval-ade] [--steps N] [--warmup N] [--backend B]
 * Without --only: sgemm, pretrain, seg-train, seg-eval, loader (the ADE20K-scale figures take minutes: --only only).
 * Every timed figure gives its median and its spread over the timed steps (`*_range` = [min, max], `*_iqr` = [25th,
 * 75th percentile]) and `load_avg_1m` (the machine is shared: a figure taken under load is not comparable).
 * sgemm: a square float32 `tf.matMul` (n = 1024 and 2048) on the current backend, median of 5 after one warm-up:
 * the same-run GEMM peak. Every model figure (pretrain, seg-*) is preceded by it in the same process and reports
 * `gflop_per_img` (model FLOPs: matmuls only, a training step = 3 × forward, no recompute of withCp; see
 * tools/bench-flops.ts), `gflop_per_s` = gflop_per_img × img/s, and `pct_of_sgemm_peak` (of the best sgemm median).
 * pretrain: config P (configs/mff/mff_vit-tiny-p4_1xb64-coslr-100e_fashion-mnist.ts), one full AdamW train step
 * on a batch of 64 (forward, backward, update), median of N steps after warm-up; tensors and RSS after N steps.
 * seg-train: config S (mmseg MAE backbone 192-d × 12 × 3 heads, patch 4, 64×64 crops, taps [3,5,7,11], Feature2Pyramid,
 * UPerHead 128 ch, FCN aux 64 ch, 11 classes, BN, AdamW, batch 8) on random data: one train step incl. optimizer and BN
 * update, median img/s over N steps after warm-up. seg-eval: config S, segEncodeDecode on a whole 64×64 image, batch 1.
 * loader: the config-P pretrain BatchLoader on datasets/fashion-mnist-mini and the seg train loader on
 * datasets/scenes-mini (loader img/s = images / loading wall time).
 * seg-train-suite: one train step of the `mff benchmark` suite's UperNet (configs/upernet/upernet_mff-vit-mini-p8_1xb8-2ki_scenes-shape-64x64.ts,
 * batch 8) on random data, as `mff seg-train` builds it (what bounds the suite's budget). cls-train-suite: one step of
 * the suite's Fashion-MNIST fine-tune (configs/mff/benchmarks/vit-mini-p8_1xb128-coslr-6e_fashion-mnist-32px.ts, batch 128,
 * label smoothing, no batch mixing) on random data.
 * seg-train-ade: one ViT-S/16 UperNet train step at 512², batch 2, as `mff seg-train` builds it
 * (configs/upernet/upernet_mff-vit-s16_8xb2-160k_ade20k-512x512.ts, withCp, 150 classes) on random data; default
 * 1 warm-up + 2 timed steps; `estimate_mb` is the seg-train pre-flight estimate (estimateSegTrainMemory) to compare
 * with `heap_peak_mb`. seg-train-ade-b: the same step for ViT-B/16 UperNet
 * (configs/upernet/upernet_mff-vit-b16_8xb2-160k_ade20k-512x512.ts). seg-eval-ade: ViT-B/16 UperNet (configs/_base/upernet_mae-vit-b16_8xb2-160k_ade20k-512x512.ts,
 * random init, no aux head) evaluating one 512×512 image as `mff seg-eval` does (inference session, the config's
 * slide testCfg, resize to the original size, argmax); default 1 warm-up + 2 timed images.
 * Every `*-memory` line has `heap_peak_mb` (wasm heap size after the timed steps: the heap only grows, so this is its
 * peak; null on other backends) and `rss_peak_mb` (process max RSS). Both are peaks of the whole process so far:
 * use --only for a figure's own peak.
 * Every run first prints an `engine` line: backend label, whether the native addon is used and which wasm kernels
 * are overridden (src/backend/registry.ts; '*' = native). `--profile` adds per-kernel times of the last step
 * (`kernel-profile` lines, the top 25 by time, or `--profile-top N`); `--profile-shapes` keys them by kernel and input shapes. MFF_NATIVE=0 measures the pure wasm engine.
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/backend/init.js';
import { loadPretrainConfig } from '../src/config/resolve.js';
import { buildPretrainModel, drawNoise, pretrainForward, randomMasking } from '../src/models/mae.js';
import { Rng } from '../src/io/rng.js';
import { createOptimizer } from '../src/engine/optim.js';
import { pretrainParamGroups } from '../src/engine/param-groups.js';
import { finishSegConfig, loadSegConfig, type SegConfig } from '../src/config/seg.js';
import { buildSegmentor, segEncodeDecode, segPredictor, segTrainGrads, type SegModel } from '../src/models/seg/segmentor.js';
import { applyBnUpdates } from '../src/nn/conv.js';
import { createSegTraining } from '../src/engine/seg-setup.js';
import { estimateSegTrainMemory } from '../src/models/seg/memory.js';
import { inferSegmentation, slideWindows } from '../src/eval/slide.js';
import { scanImageFolder } from '../src/data/imagenet.js';
import { buildPretrainTransform } from '../src/data/transforms.js';
import { BatchLoader } from '../src/data/loader.js';
import { loadSegMeta, scanSegDataset } from '../src/data/seg/ade20k.js';
import { SegLoader } from '../src/data/seg/seg-loader.js';
import segBase from '../configs/upernet/upernet_mff-vit-mini-p4_1xb8-300i_scenes-mini-32x32.js';
import { nativeGemmLib, nativeStatus, nativeThreads } from '../src/backend/native.js';
import { loadClsConfig } from '../src/config/cls.js';
import { buildClassifier, clsForward } from '../src/models/cls/classifier.js';
import { buildClsOptimizer } from '../src/engine/cls-setup.js';
import { labelSmoothLoss } from '../src/engine/cls-loss.js';
import { gradsByName } from '../src/engine/train-loop.js';
import { registerFastKernels } from '../src/backend/registry.js';
import { median, spread } from './bench-stats.js';
import { mm, pretrainFlops, pretrainFlopsDims, segFlops } from './bench-flops.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    steps: { type: 'string' }, // default 10 (ADE figures: 2)
    warmup: { type: 'string' }, // default 2 (ADE figures: 1)
    backend: { type: 'string', default: process.env.MFF_BACKEND ?? 'auto' },
    profile: { type: 'boolean', default: false },
    'profile-shapes': { type: 'boolean', default: false },
    'profile-top': { type: 'string', default: '25' },
  },
});
let steps = Number(values.steps ?? 10);
let warmup = Number(values.warmup ?? 2);

function emit(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

/** `{name}_range` and `{name}_iqr` of the timed steps (see the header), in the unit of `name` (scale: ms per unit). */
function spreadFields(name: string, xs: number[], scale = 1, digits = 1): Record<string, [number, number]> {
  const s = spread(xs, scale, digits);
  return { [`${name}_range`]: s.range, [`${name}_iqr`]: s.iqr };
}

const loadAvg = () => +os.loadavg()[0].toFixed(2);

/**
 * `warmup` + `steps` calls of `step` (it may return its optimizer ms): wall, CPU (whole process, all threads: steadier
 * than wall time on a shared machine) and optimizer times of the timed calls, and the tensor count after the warm-up.
 * The per-kernel profile is reset before each call, so `--profile` shows the last one.
 */
async function timedSteps(step: () => number | void | Promise<number | void>) {
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const optTimes: number[] = [];
  let tensors0 = 0;
  for (let s = 0; s < warmup + steps; s++) {
    kstats.clear();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const opt = await step();
    const dt = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (s === warmup) tensors0 = tf.memory().numTensors;
    if (s >= warmup) {
      times.push(dt);
      cpuTimes.push((c.user + c.system) / 1000);
      if (typeof opt === 'number') optTimes.push(opt);
    }
  }
  return { times, cpuTimes, optTimes, tensors0 };
}

/** The best sgemm GFLOP/s (median over reps) of this run; measured before the first model figure. */
let sgemmPeak: number | null = null;

async function benchSgemm(backend: string): Promise<void> {
  const reps = 5;
  let peak = 0;
  for (const n of [1024, 2048]) {
    const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
    const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
    const times: number[] = [];
    for (let r = 0; r < reps + 1; r++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      const corner = c.slice([0, 0], [1, 1]);
      corner.dataSync(); // completes the product on an asynchronous backend; reads one element only
      const dt = performance.now() - t0;
      tf.dispose([c, corner]);
      if (r > 0) times.push(dt);
    }
    tf.dispose([a, b]);
    const gflop = mm(n, n, n) / 1e9;
    const med = median(times);
    const gps = gflop / (med / 1000);
    peak = Math.max(peak, gps);
    emit({ bench: 'sgemm', backend, n, reps, ms_median: +med.toFixed(1), ...spreadFields('ms', times), gflop_per_s: +gps.toFixed(1), load_avg_1m: loadAvg() });
  }
  sgemmPeak = peak;
}

/** Achieved model GFLOP/s of a figure, and its share of this run's sgemm peak. */
function flopFields(flopsPerImg: number, imgPerS: number): Record<string, number | null> {
  const gps = (flopsPerImg * imgPerS) / 1e9;
  return {
    gflop_per_img: +(flopsPerImg / 1e9).toPrecision(4),
    gflop_per_s: +gps.toFixed(1),
    pct_of_sgemm_peak: sgemmPeak ? +((100 * gps) / sgemmPeak).toFixed(1) : null,
  };
}

/**
 * Peak memory so far: the wasm heap's size (it only grows, so its size is its peak; null on non-wasm backends) and
 * the process's max RSS (resourceUsage().maxRSS is in KB).
 */
function peakMemory(): { heap_peak_mb: number | null; rss_peak_mb: number } {
  const heap = (tf.backend() as any).wasm?.HEAPU8?.buffer?.byteLength as number | undefined;
  return { heap_peak_mb: heap ? Math.round(heap / 2 ** 20) : null, rss_peak_mb: Math.round(process.resourceUsage().maxRSS / 1024) };
}

async function benchPretrain(backend: string): Promise<void> {
  const cfg = await loadPretrainConfig('configs/mff/mff_vit-tiny-p4_1xb64-coslr-100e_fashion-mnist.ts');
  const rng = new Rng(0);
  const model = buildPretrainModel(cfg.model, rng.fork());
  const p = model.params;
  const names = p.trainableNames();
  const vars = names.map((n) => p.get(n));
  const byVar = new Map(vars.map((v, i) => [v.name, names[i]]));
  const opt = createOptimizer({ type: 'AdamW', betas: cfg.optim.betas, eps: cfg.optim.eps }, p, pretrainParamGroups(names, { weightDecay: 0.05 }));
  const B = cfg.batchSize;
  const S = cfg.model.imgSize;
  const img = new Float32Array(B * S * S * 3);
  for (let i = 0; i < img.length; i++) img[i] = rng.normal();
  const { times, cpuTimes, optTimes, tensors0 } = await timedSteps(async () => {
    const mk = randomMasking(drawNoise(rng, B, model.numPatches), B, model.numPatches, model.lenKeep);
    const x = tf.tensor4d(img, [B, S, S, 3]);
    const { value, grads } = tf.variableGrads(() => pretrainForward(model, x, mk).loss, vars);
    const named = new Map(Object.entries(grads).map(([k, g]) => [byVar.get(k)!, g]));
    const tOpt = performance.now();
    opt.step(named, 1e-4);
    const dOpt = performance.now() - tOpt;
    await value.data();
    tf.dispose([x, value, ...Object.values(grads)]);
    return dOpt;
  });
  const med = median(times);
  const imgPerS = (B * 1000) / med;
  const flops = pretrainFlops(pretrainFlopsDims(cfg.model));
  emit({
    bench: 'pretrain', config: 'P', backend, batch: B, steps, ms_per_step_median: +med.toFixed(1), ...spreadFields('ms_per_step', times), img_per_s: +imgPerS.toFixed(1),
    ...flopFields(flops.train, imgPerS), ms_optimizer_median: +median(optTimes).toFixed(1), cpu_ms_per_step_median: +median(cpuTimes).toFixed(1), load_avg_1m: loadAvg(),
  });
  emit({ bench: 'pretrain-memory', backend, tensors_after_warmup: tensors0, tensors_after: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20), ...peakMemory() });
  profileRows(times.at(-1));
  p.dispose();
}

/** Config S: the bundled scenes config with the backbone/head sizes of the seg benchmark. */
function segConfigS() {
  const raw = structuredClone(segBase) as any;
  const D = 192;
  raw.model.backbone = { ...raw.model.backbone, imgSize: 64, patchSize: 4, embedDims: D, numLayers: 12, numHeads: 3, outIndices: [3, 5, 7, 11] };
  raw.model.decodeHead = { ...raw.model.decodeHead, inChannels: [D, D, D, D], channels: 128, numClasses: 11 };
  raw.model.auxiliaryHead = { ...raw.model.auxiliaryHead, inChannels: D, channels: 64, numClasses: 11 };
  raw.data.train = { ...raw.data.train, scale: [256, 64], cropSize: [64, 64] };
  raw.batchSize = 8;
  return finishSegConfig(raw, 'bench config S');
}

/** The categories of tools/bench-torch/profile_torch.py (PyTorch's profile of the same figure), for a side-by-side. */
const KERNEL_CATEGORIES: [string, RegExp][] = [
  ['GEMM (Linear fwd/bwd)', /^(MffLinear|MffFfn)/], // MffFfn: both FFN Linears with their GELU in one kernel
  ['attention', /^(MffAttention|BatchMatMul|Softmax)/],
  ['conv', /^(Conv2D|FusedConv2D|DepthwiseConv)/],
  ['norm (LN/BN)', /^(MffLayerNorm|MffAddLayerNorm|FusedBatchNorm|MffBatchNorm)/], // MffAddLayerNorm: + the residual sum
  ['activation', /^(MffGelu|Relu|Erf|Step)/],
  ['optimizer', /^MffAdamW/],
  ['copy/reshape', /^(Transpose|Concat|Slice|Reshape|Gather|Pack|Unpack|Split|Tile|Identity|Cast|Pad|Mirror|Resize|Fill|Zeros|Ones|Scatter|StridedSlice|UnsortedSegmentSum|Reverse|Range|OneHot|ArgMax|MaxPool|AvgPool)/],
  ['elementwise/reduce', /./],
];

/**
 * `--profile`: the last step's kernels (top 25 by time), then the same times in PyTorch-profile categories, and what
 * the step spent outside kernels (wall − the kernels' sum: tfjs dispatch, tape, allocation, JS).
 */
function profileRows(lastStepMs?: number): void {
  if (!values.profile && !values['profile-shapes']) return;
  const all = [...kstats.entries()].sort((a, b) => b[1].ms - a[1].ms);
  for (const [kernel, st] of all.slice(0, Number(values['profile-top']))) emit({ bench: 'kernel-profile', kernel, calls: st.n, ms: +st.ms.toFixed(1) });
  const cats = new Map<string, { n: number; ms: number }>();
  for (const [key, st] of all) {
    const kernel = key.split(' ')[0];
    const cat = KERNEL_CATEGORIES.find(([, re]) => re.test(kernel))![0];
    const c = cats.get(cat) ?? { n: 0, ms: 0 };
    c.n += st.n;
    c.ms += st.ms;
    cats.set(cat, c);
  }
  const sum = [...cats.values()].reduce((a, c) => a + c.ms, 0);
  for (const [category, c] of [...cats.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
    emit({ bench: 'kernel-category', category, calls: c.n, ms: +c.ms.toFixed(1) });
  }
  if (lastStepMs !== undefined) emit({ bench: 'kernel-category', category: 'outside kernels (dispatch, tape, JS)', ms: +(lastStepMs - sum).toFixed(1), step_ms: +lastStepMs.toFixed(1) });
}

/**
 * The seg-train step loop (as `mff seg-train` runs a step: grads, AdamW with the layer-decay groups, BN update) on one
 * random batch: `warmup` + `steps` steps; wall, CPU and optimizer times of the timed steps.
 */
async function segTrainSteps(cfg: SegConfig, model: SegModel, dropRng: Rng, opt: ReturnType<typeof createSegTraining>['optimizer'], numClasses: number) {
  const p = model.params;
  const rng = new Rng(1); // synthetic batch
  const B = cfg.batchSize;
  const S = cfg.data.train.cropSize[0];
  const img = new Float32Array(B * S * S * 3);
  for (let i = 0; i < img.length; i++) img[i] = rng.normal();
  const lab = new Int32Array(B * S * S);
  for (let i = 0; i < lab.length; i++) lab[i] = rng.int(numClasses);
  const r = await timedSteps(() => {
    const x = tf.tensor4d(img, [B, S, S, 3]);
    const y = tf.tensor3d(lab, [B, S, S], 'int32');
    const step = segTrainGrads(model, x, y, { rng: dropRng, stochastic: true });
    tf.dispose([x, y]);
    const tOpt = performance.now();
    opt.step(step.grads, (scale) => 1e-4 * scale);
    const dOpt = performance.now() - tOpt;
    tf.dispose([...step.grads.values()]);
    applyBnUpdates(p, step.bnUpdates);
    return dOpt;
  });
  return { B, S, ...r };
}

async function benchSegTrain(backend: string): Promise<void> {
  const cfg = segConfigS();
  const { model, dropRng, optimizer: opt } = createSegTraining(cfg); // exactly what seg-train builds
  const { B, times, cpuTimes, tensors0 } = await segTrainSteps(cfg, model, dropRng, opt, 11);
  const med = median(times);
  const imgPerS = (B * 1000) / med;
  emit({
    bench: 'seg-train', config: 'S', backend, batch: B, steps, ms_per_step_median: +med.toFixed(1), ...spreadFields('ms_per_step', times), img_per_s: +imgPerS.toFixed(2),
    ...flopFields(segFlops(cfg.model).train, imgPerS), cpu_ms_per_step_median: +median(cpuTimes).toFixed(1), load_avg_1m: loadAvg(),
  });
  emit({ bench: 'seg-train-memory', backend, tensors_after_warmup: tensors0, tensors_after: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20), ...peakMemory() });
  profileRows(times.at(-1));
  opt.dispose();
  model.params.dispose();
}

const ADE_SEG_TRAIN = 'configs/upernet/upernet_mff-vit-s16_8xb2-160k_ade20k-512x512.ts';
const ADE_SEG_TRAIN_B = 'configs/upernet/upernet_mff-vit-b16_8xb2-160k_ade20k-512x512.ts';
const ADE_SEG_EVAL = 'configs/_base/upernet_mae-vit-b16_8xb2-160k_ade20k-512x512.ts';
/** The `mff benchmark` suite's UperNet (src/engine/benchmark/suites.ts): figure seg-train-suite, batch 8 as configured. */
const SUITE_SEG_TRAIN = 'configs/upernet/upernet_mff-vit-mini-p8_1xb8-2ki_scenes-shape-64x64.ts';

/** ViT-S/16 (or ViT-B/16) UperNet, 512², batch 2 (withCp as configured): one seg-train step, and its pre-flight memory estimate. */
async function benchSegTrainAde(backend: string, config = ADE_SEG_TRAIN, name = 'seg-train-ade', batch = 2): Promise<void> {
  const cfg = await loadSegConfig(config, { cfgOptions: [`batchSize=${batch}`, 'pretrained='] });
  const { model, dropRng, optimizer: opt } = createSegTraining(cfg); // exactly what seg-train builds
  const params = model.params.numParams();
  const est = estimateSegTrainMemory(cfg.model, cfg.batchSize, { params, optimizerOnHeap: false });
  const K = cfg.model.decodeHead.numClasses;
  const { B, S, times, cpuTimes, optTimes, tensors0 } = await segTrainSteps(cfg, model, dropRng, opt, K);
  const med = median(times);
  const imgPerS = (B * 1000) / med;
  emit({
    bench: name, config, backend, batch: B, crop: S, classes: K, with_cp: cfg.model.backbone.withCp, steps,
    s_per_step_median: +(med / 1000).toFixed(2), ...spreadFields('s_per_step', times, 1000, 2), img_per_s: +imgPerS.toFixed(3),
    ...flopFields(segFlops(cfg.model).train, imgPerS), s_optimizer_median: +(median(optTimes) / 1000).toFixed(2),
    cpu_s_per_step_median: +(median(cpuTimes) / 1000).toFixed(2), load_avg_1m: loadAvg(),
  });
  emit({
    bench: `${name}-memory`, backend, tensors_after_warmup: tensors0, tensors_after: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
    ...peakMemory(), estimate_mb: Math.round(est.total / 2 ** 20), params,
  });
  profileRows(times.at(-1));
  opt.dispose();
  model.params.dispose();
}

/** ViT-B/16 UperNet (150 classes), random init: one 512×512 image as `mff seg-eval` runs it (session + testCfg). */
async function benchSegEvalAde(backend: string): Promise<void> {
  const cfg = await loadSegConfig(ADE_SEG_EVAL);
  const model = buildSegmentor({ ...cfg.model, auxiliaryHead: null }, new Rng(cfg.seed)); // as loadSegCheckpoint builds it
  const S = 512;
  const rng = new Rng(1);
  const img = new Float32Array(S * S * 3);
  for (let i = 0; i < img.length; i++) img[i] = rng.normal();
  const predictor = segPredictor(model);
  const { times, cpuTimes, tensors0 } = await timedSteps(() => {
    const x = tf.tensor4d(img, [1, S, S, 3]);
    const res = inferSegmentation(predictor.encodeDecode, x, [S, S], cfg.testCfg);
    tf.dispose([x, res.segLogits, res.logits]);
  });
  const med = median(times);
  // one 512² slide window per image here (the crop is the image): the model FLOPs of one encode_decode
  const windows = cfg.testCfg.mode === 'slide' ? slideWindows(S, S, cfg.testCfg.crop, cfg.testCfg.stride).length : 1;
  emit({
    bench: 'seg-eval-ade', config: ADE_SEG_EVAL, backend, batch: 1, size: S, classes: cfg.model.decodeHead.numClasses, test_cfg: cfg.testCfg, images: steps,
    s_per_img_median: +(med / 1000).toFixed(2), ...spreadFields('s_per_img', times, 1000, 2), img_per_s: +(1000 / med).toFixed(3),
    ...flopFields(windows * segFlops({ ...cfg.model, auxiliaryHead: null }).forward, 1000 / med), cpu_s_per_img_median: +(median(cpuTimes) / 1000).toFixed(2), load_avg_1m: loadAvg(),
  });
  emit({ bench: 'seg-eval-ade-memory', backend, tensors_after_warmup: tensors0, tensors_after: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20), ...peakMemory() });
  profileRows(times.at(-1));
  predictor.dispose();
  model.params.dispose();
}

async function benchSegEval(backend: string): Promise<void> {
  const cfg = segConfigS();
  const rng = new Rng(0);
  const model = buildSegmentor({ ...cfg.model, auxiliaryHead: null }, rng.fork());
  const S = cfg.data.train.cropSize[0];
  const img = new Float32Array(S * S * 3);
  for (let i = 0; i < img.length; i++) img[i] = rng.normal();
  const n = Math.max(steps, 1) * 4; // single images are fast: 4 per step
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let tensors0 = 0;
  // as `mff seg-eval` runs it: one inference session (weight-only work cached); MFF_SEG_EVAL_CACHE=0 measures without
  const predictor = process.env.MFF_SEG_EVAL_CACHE === '0' ? null : segPredictor(model);
  for (let s = 0; s < warmup * 4 + n; s++) {
    kstats.clear();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const x = tf.tensor4d(img, [1, S, S, 3]);
    const logits = predictor ? predictor.encodeDecode(x) : segEncodeDecode(model, x);
    const pred = tf.argMax(logits, -1);
    await pred.data();
    tf.dispose([x, logits, pred]);
    const dt = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (s === warmup * 4) tensors0 = tf.memory().numTensors;
    if (s >= warmup * 4) {
      times.push(dt);
      cpuTimes.push((c.user + c.system) / 1000);
    }
  }
  const med = median(times);
  emit({
    bench: 'seg-eval', config: 'S', backend, batch: 1, images: n, ms_per_img_median: +med.toFixed(2), ...spreadFields('ms_per_img', times, 1, 2), img_per_s: +(1000 / med).toFixed(1),
    ...flopFields(segFlops(cfg.model).forward, 1000 / med), cpu_ms_per_img_median: +median(cpuTimes).toFixed(2), load_avg_1m: loadAvg(),
  });
  emit({ bench: 'seg-eval-memory', backend, tensors_after_warmup: tensors0, tensors_after: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20), ...peakMemory() });
  profileRows(times.at(-1));
  predictor?.dispose();
  model.params.dispose();
}

/** The `mff benchmark` suite's Fashion-MNIST fine-tune (32 px, 8-px patches, batch 128, label smoothing): one train step on random data. */
const SUITE_CLS_FINETUNE = 'configs/mff/benchmarks/vit-mini-p8_1xb128-coslr-6e_fashion-mnist-32px.ts';
async function benchClsTrainSuite(backend: string): Promise<void> {
  const cfg = await loadClsConfig(SUITE_CLS_FINETUNE);
  cfg.model.numClasses = 10;
  const rng = new Rng(cfg.seed);
  const model = buildClassifier(cfg.model, rng.fork());
  const dropRng = rng.fork();
  const { optimizer: opt, names } = buildClsOptimizer(cfg, model, 1e-4);
  const B = cfg.batchSize;
  const S = cfg.model.imgSize;
  const data = new Rng(1);
  const img = new Float32Array(B * S * S * 3).map(() => data.normal());
  const labels = Int32Array.from({ length: B }, () => data.int(10));
  const { times, cpuTimes, tensors0 } = await timedSteps(() => {
    const x = tf.tensor4d(img, [B, S, S, 3]);
    const { grads } = gradsByName(model.params, names, () => labelSmoothLoss(clsForward(model, x, { train: true, rng: dropRng }).logits, labels, { smooth: cfg.labelSmooth }));
    opt.step(grads, (scale) => 1e-4 * scale);
    tf.dispose([x, ...grads.values()]);
  });
  const med = median(times);
  emit({
    bench: 'cls-train-suite', config: SUITE_CLS_FINETUNE, backend, batch: B, steps, ms_per_step_median: +med.toFixed(1), ...spreadFields('ms_per_step', times),
    img_per_s: +((B * 1000) / med).toFixed(1), cpu_ms_per_step_median: +median(cpuTimes).toFixed(1), load_avg_1m: loadAvg(),
  });
  emit({ bench: 'cls-train-suite-memory', backend, tensors_after_warmup: tensors0, tensors_after: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20), ...peakMemory() });
  profileRows(times.at(-1));
  opt.dispose();
  model.params.dispose();
}

async function benchLoader(): Promise<void> {
  const cfg = await loadPretrainConfig('configs/mff/mff_vit-tiny-p4_1xb64-coslr-100e_fashion-mnist.ts');
  const dataset = scanImageFolder('datasets/fashion-mnist-mini', cfg.data.split, { annFile: cfg.data.annFile });
  const loader = new BatchLoader({
    dataset, batchSize: cfg.batchSize, transform: buildPretrainTransform(cfg.data.pipeline, cfg.data.mean, cfg.data.std),
    seed: 0, shuffle: true, dropLast: true, concurrency: cfg.data.concurrency, prefetch: cfg.data.prefetch,
  });
  let imgs = 0;
  let t0 = performance.now();
  let gaps: number[] = []; // wall time between consecutive batches (the spread of the loader figure)
  let tb = t0;
  for (let e = 0; imgs < Math.max(steps, 1) * cfg.batchSize * 4; e++) {
    for await (const b of loader.batches(e)) {
      imgs += b.batchSize;
      gaps.push(performance.now() - tb);
      tb = performance.now();
    }
  }
  let wall = (performance.now() - t0) / 1000;
  const ps = loader.stats();
  emit({
    bench: 'loader', kind: 'pretrain', dataset: 'datasets/fashion-mnist-mini', batch: cfg.batchSize, images: imgs, img_per_s: +(ps.images / ps.seconds).toFixed(1), wall_img_per_s: +(imgs / wall).toFixed(1),
    ms_per_batch_median: +median(gaps).toFixed(1), ...spreadFields('ms_per_batch', gaps), load_avg_1m: loadAvg(),
  });

  const scfg = segConfigS(); // config S pipeline: RandomResize((256, 64)) -> crop 64 -> flip -> photometric
  const root = 'datasets/scenes-mini';
  const meta = await loadSegMeta(root);
  const set = await scanSegDataset(root, scfg.data.trainSplit, { meta });
  const t = scfg.data.train;
  const sl = new SegLoader({
    dataset: set, batchSize: scfg.batchSize, seed: 0, shuffle: true, concurrency: scfg.data.concurrency, prefetch: scfg.data.prefetch,
    pipeline: { scale: t.scale, ratioRange: t.ratioRange, cropSize: t.cropSize, catMaxRatio: t.catMaxRatio, flipProb: t.flipProb, photometric: t.photometric ? {} : false, mean: scfg.data.mean, std: scfg.data.std, ignoreIndex: scfg.model.ignoreIndex },
  });
  imgs = 0;
  t0 = performance.now();
  gaps = [];
  tb = t0;
  for (let e = 0; imgs < Math.max(steps, 1) * scfg.batchSize * 4; e++) {
    for await (const b of sl.batches(e)) {
      imgs += b.batchSize;
      gaps.push(performance.now() - tb);
      tb = performance.now();
    }
  }
  wall = (performance.now() - t0) / 1000;
  const ss = sl.stats();
  emit({
    bench: 'loader', kind: 'seg-train', dataset: root, batch: scfg.batchSize, crop: t.cropSize, images: imgs, img_per_s: +ss.imgPerSec.toFixed(1), wall_img_per_s: +(imgs / wall).toFixed(1),
    ms_per_batch_median: +median(gaps).toFixed(1), ...spreadFields('ms_per_batch', gaps), load_avg_1m: loadAvg(),
  });
  emit({ bench: 'loader-memory', tensors: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20), ...peakMemory() });
}

const backend = await initBackend(values.backend as BackendName, { quiet: true });
const kstats = new Map<string, { n: number; ms: number }>();
if (backend.startsWith('wasm')) {
  const fast = registerFastKernels(); // already registered by initBackend: returns the same summary
  emit({ bench: 'engine', backend, native: fast.native, native_status: nativeStatus() || 'ok', blas_threads: nativeThreads(), gemm: nativeGemmLib(), kernels: fast.kernels });
} else {
  emit({ bench: 'engine', backend, native: false, kernels: [] });
}
if (values.profile || values['profile-shapes']) {
  // Wrap every kernel of the active backend with a timer (kernels run synchronously on wasm/cpu).
  const name = tf.getBackend();
  for (const k of tf.getKernelsForBackend(name)) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, name);
    tf.registerKernel({
      ...k,
      kernelFunc: ((a: Parameters<tf.KernelFunc>[0]) => {
        const t0 = performance.now();
        const r = f(a);
        const key = values['profile-shapes'] ? `${k.kernelName} ${Object.values(a.inputs).map((t) => JSON.stringify((t as tf.TensorInfo | undefined)?.shape ?? null)).join(' ')}` : k.kernelName;
        const s = kstats.get(key) ?? { n: 0, ms: 0 };
        s.n++;
        s.ms += performance.now() - t0;
        kstats.set(key, s);
        return r;
      }) as tf.KernelFunc,
    });
  }
}
const only = values.only;
const FIGURES = ['sgemm', 'pretrain', 'seg-train', 'seg-eval', 'loader', 'seg-train-suite', 'cls-train-suite', 'seg-train-ade', 'seg-train-ade-b', 'seg-eval-ade'];
if (only && !FIGURES.includes(only)) throw new Error(`--only ${only}: expected ${FIGURES.join('|')}`);
// the GEMM peak first: every model figure reports its share of this run's peak (the loader has no FLOPs)
if (only !== 'loader') await benchSgemm(backend);
if (!only || only === 'pretrain') await benchPretrain(backend);
if (!only || only === 'seg-train') await benchSegTrain(backend);
if (!only || only === 'seg-eval') await benchSegEval(backend);
if (!only || only === 'loader') await benchLoader();
if (only === 'seg-train-suite') await benchSegTrainAde(backend, SUITE_SEG_TRAIN, only, 8);
if (only === 'cls-train-suite') await benchClsTrainSuite(backend);
if (only === 'seg-train-ade' || only === 'seg-train-ade-b' || only === 'seg-eval-ade') {
  // minutes per step/image: not in the default run; defaults 1 warm-up + 2 timed
  steps = Number(values.steps ?? 2);
  warmup = Number(values.warmup ?? 1);
  if (only === 'seg-eval-ade') await benchSegEvalAde(backend);
  else await benchSegTrainAde(backend, only === 'seg-train-ade' ? ADE_SEG_TRAIN : ADE_SEG_TRAIN_B, only);
}
