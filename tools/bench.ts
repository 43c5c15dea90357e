/**
 * Benchmarks, one JSON line per figure (compare runs by diffing lines):
 *   npm run bench -- [--only pretrain|seg-train|seg-eval|loader] [--steps N] [--warmup N] [--backend B]
 * pretrain: config P (configs/mff/mff_vit-tiny-p4_1xb64-coslr-100e_fashion-mnist.ts), one full AdamW train step
 * on a batch of 64 (forward, backward, update), median of N steps after warm-up; tensors and RSS after N steps.
 * seg-train: config S (mmseg MAE backbone 192-d × 12 × 3 heads, patch 4, 64×64 crops, taps [3,5,7,11], Feature2Pyramid,
 * UPerHead 128 ch, FCN aux 64 ch, 11 classes, BN, AdamW, batch 8) on random data: one train step incl. optimizer and BN
 * update, median img/s over N steps after warm-up. seg-eval: config S, segEncodeDecode on a whole 64×64 image, batch 1.
 * loader: the config-P pretrain BatchLoader on datasets/fashion-mnist-mini and the seg train loader on
 * datasets/scenes-mini (loader img/s = images / loading wall time).
 * Every run first prints an `engine` line: backend label, whether the native addon is used and which wasm kernels
 * are overridden (src/nn/fast-kernels.ts; '*' = native). `--profile` adds per-kernel times of the last step
 * (`kernel-profile` lines, top 25 by time); `--profile-shapes` keys them by kernel and input shapes. MFF_NATIVE=0 measures the pure wasm engine.
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadPretrainConfig } from '../src/config/resolve.js';
import { buildPretrainModel, drawNoise, pretrainForward, randomMasking } from '../src/models/mae.js';
import { Rng } from '../src/engine/rng.js';
import { createOptimizer } from '../src/engine/optim.js';
import { pretrainParamGroups } from '../src/engine/param-groups.js';
import { finishSegConfig } from '../src/config/seg.js';
import { buildSegmentor, segEncodeDecode, segPredictor, segTrainGrads } from '../src/models/seg/segmentor.js';
import { applyBnUpdates } from '../src/nn/conv.js';
import { createSegTraining } from '../src/engine/run-seg.js';
import { scanImageFolder } from '../src/data/imagenet.js';
import { buildPretrainTransform } from '../src/data/transforms.js';
import { BatchLoader } from '../src/data/loader.js';
import { loadSegMeta, scanSegDataset } from '../src/data/seg/ade20k.js';
import { SegLoader } from '../src/data/seg/seg-loader.js';
import segBase from '../configs/upernet/upernet_mff-vit-mini-p4_1xb8-300i_scenes-mini-32x32.js';
import { nativeStatus, nativeThreads, registerFastKernels } from '../src/nn/fast-kernels.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    backend: { type: 'string', default: process.env.MFF_BACKEND ?? 'auto' },
    profile: { type: 'boolean', default: false },
    'profile-shapes': { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const warmup = Number(values.warmup);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function emit(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
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
  const times: number[] = [];
  const optTimes: number[] = [];
  const cpuTimes: number[] = []; // CPU time of the whole process (all threads): steadier than wall time on a shared machine
  let tensors0 = 0;
  for (let s = 0; s < warmup + steps; s++) {
    kstats.clear();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const mk = randomMasking(drawNoise(rng, B, model.numPatches), B, model.numPatches, model.lenKeep);
    const x = tf.tensor4d(img, [B, S, S, 3]);
    const { value, grads } = tf.variableGrads(() => pretrainForward(model, x, mk).loss, vars);
    const named = new Map(Object.entries(grads).map(([k, g]) => [byVar.get(k)!, g]));
    const tOpt = performance.now();
    opt.step(named, 1e-4);
    if (s >= warmup) optTimes.push(performance.now() - tOpt);
    await value.data();
    tf.dispose([x, value, ...Object.values(grads)]);
    const dt = performance.now() - t0;
    if (s === warmup) tensors0 = tf.memory().numTensors;
    if (s >= warmup) times.push(dt);
    const c = process.cpuUsage(c0);
    if (s >= warmup) cpuTimes.push((c.user + c.system) / 1000);
  }
  const med = median(times);
  emit({ bench: 'pretrain', config: 'P', backend, batch: B, steps, ms_per_step_median: +med.toFixed(1), img_per_s: +((B * 1000) / med).toFixed(1), ms_optimizer_median: +median(optTimes).toFixed(1), cpu_ms_per_step_median: +median(cpuTimes).toFixed(1), load_avg_1m: +os.loadavg()[0].toFixed(2) });
  emit({ bench: 'pretrain-memory', backend, tensors_after_warmup: tensors0, tensors_after: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) });
  profileRows();
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

function profileRows(): void {
  if (!values.profile && !values['profile-shapes']) return;
  const rows = [...kstats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25);
  for (const [kernel, st] of rows) emit({ bench: 'kernel-profile', kernel, calls: st.n, ms: +st.ms.toFixed(1) });
}

async function benchSegTrain(backend: string): Promise<void> {
  const cfg = segConfigS();
  const { model, dropRng, optimizer: opt } = createSegTraining(cfg); // exactly what seg-train builds
  const p = model.params;
  const rng = new Rng(1); // synthetic batch
  const B = cfg.batchSize;
  const S = cfg.data.train.cropSize[0];
  const img = new Float32Array(B * S * S * 3);
  for (let i = 0; i < img.length; i++) img[i] = rng.normal();
  const lab = new Int32Array(B * S * S);
  for (let i = 0; i < lab.length; i++) lab[i] = rng.int(11);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let tensors0 = 0;
  for (let s = 0; s < warmup + steps; s++) {
    kstats.clear();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const x = tf.tensor4d(img, [B, S, S, 3]);
    const y = tf.tensor3d(lab, [B, S, S], 'int32');
    const step = segTrainGrads(model, x, y, { rng: dropRng, stochastic: true });
    tf.dispose([x, y]);
    opt.step(step.grads, (scale) => 1e-4 * scale);
    tf.dispose([...step.grads.values()]);
    applyBnUpdates(p, step.bnUpdates);
    const dt = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (s === warmup) tensors0 = tf.memory().numTensors;
    if (s >= warmup) {
      times.push(dt);
      cpuTimes.push((c.user + c.system) / 1000);
    }
  }
  const med = median(times);
  emit({ bench: 'seg-train', config: 'S', backend, batch: B, steps, ms_per_step_median: +med.toFixed(1), img_per_s: +((B * 1000) / med).toFixed(2), cpu_ms_per_step_median: +median(cpuTimes).toFixed(1), load_avg_1m: +os.loadavg()[0].toFixed(2) });
  emit({ bench: 'seg-train-memory', backend, tensors_after_warmup: tensors0, tensors_after: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) });
  profileRows();
  p.dispose();
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
  emit({ bench: 'seg-eval', config: 'S', backend, batch: 1, images: n, ms_per_img_median: +med.toFixed(2), img_per_s: +(1000 / med).toFixed(1), cpu_ms_per_img_median: +median(cpuTimes).toFixed(2), load_avg_1m: +os.loadavg()[0].toFixed(2) });
  emit({ bench: 'seg-eval-memory', backend, tensors_after_warmup: tensors0, tensors_after: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) });
  profileRows();
  predictor?.dispose();
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
  for (let e = 0; imgs < Math.max(steps, 1) * cfg.batchSize * 4; e++) {
    for await (const b of loader.batches(e)) imgs += b.batchSize;
  }
  let wall = (performance.now() - t0) / 1000;
  const ps = loader.stats();
  emit({ bench: 'loader', kind: 'pretrain', dataset: 'datasets/fashion-mnist-mini', batch: cfg.batchSize, images: imgs, img_per_s: +(ps.images / ps.seconds).toFixed(1), wall_img_per_s: +(imgs / wall).toFixed(1), load_avg_1m: +os.loadavg()[0].toFixed(2) });

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
  for (let e = 0; imgs < Math.max(steps, 1) * scfg.batchSize * 4; e++) {
    for await (const b of sl.batches(e)) imgs += b.batchSize;
  }
  wall = (performance.now() - t0) / 1000;
  const ss = sl.stats();
  emit({ bench: 'loader', kind: 'seg-train', dataset: root, batch: scfg.batchSize, crop: t.cropSize, images: imgs, img_per_s: +ss.imgPerSec.toFixed(1), wall_img_per_s: +(imgs / wall).toFixed(1), load_avg_1m: +os.loadavg()[0].toFixed(2) });
  emit({ bench: 'loader-memory', tensors: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) });
}

const backend = await initBackend(values.backend as BackendName, { quiet: true });
const kstats = new Map<string, { n: number; ms: number }>();
if (backend.startsWith('wasm')) {
  const fast = registerFastKernels(); // already registered by initBackend: returns the same summary
  emit({ bench: 'engine', backend, native: fast.native, native_status: nativeStatus() || 'ok', blas_threads: nativeThreads(), kernels: fast.kernels });
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
        const key = values['profile-shapes'] ? `${k.kernelName} ${Object.values(a.inputs).map((t) => JSON.stringify((t as tf.TensorInfo).shape)).join(' ')}` : k.kernelName;
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
if (!only || only === 'pretrain') await benchPretrain(backend);
if (!only || only === 'seg-train') await benchSegTrain(backend);
if (!only || only === 'seg-eval') await benchSegEval(backend);
if (!only || only === 'loader') await benchLoader();
if (only && !['pretrain', 'seg-train', 'seg-eval', 'loader'].includes(only)) throw new Error(`--only ${only}: expected pretrain|seg-train|seg-eval|loader`);
