/**
 * Benchmarks, one JSON line per figure (compare runs by diffing lines):
 *   npm run bench -- [--only pretrain|seg-train|seg-eval|loader] [--steps N] [--warmup N] [--backend B]
 * pretrain: config P (configs/mff/mff_vit-tiny-p4_1xb64-coslr-100e_fashion-mnist.ts), one full AdamW train step
 * on a batch of 64 (forward, backward, update), median of N steps after warm-up; tensors and RSS after N steps.
 * Every run first prints an `engine` line: backend label, whether the native addon is used and which wasm kernels
 * are overridden (src/nn/fast-kernels.ts; '*' = native). `--profile` adds per-kernel times of the last step
 * (`kernel-profile` lines, top 25 by time). MFF_NATIVE=0 measures the pure wasm engine.
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
import { nativeStatus, nativeThreads, registerFastKernels } from '../src/nn/fast-kernels.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    backend: { type: 'string', default: process.env.MFF_BACKEND ?? 'auto' },
    profile: { type: 'boolean', default: false },
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
  if (values.profile) {
    const rows = [...kstats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25);
    for (const [kernel, st] of rows) emit({ bench: 'kernel-profile', kernel, calls: st.n, ms: +st.ms.toFixed(1) });
  }
  p.dispose();
}

const backend = await initBackend(values.backend as BackendName, { quiet: true });
const kstats = new Map<string, { n: number; ms: number }>();
if (backend.startsWith('wasm')) {
  const fast = registerFastKernels(); // already registered by initBackend: returns the same summary
  emit({ bench: 'engine', backend, native: fast.native, native_status: nativeStatus() || 'ok', blas_threads: nativeThreads(), kernels: fast.kernels });
} else {
  emit({ bench: 'engine', backend, native: false, kernels: [] });
}
if (values.profile) {
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
        const s = kstats.get(k.kernelName) ?? { n: 0, ms: 0 };
        s.n++;
        s.ms += performance.now() - t0;
        kstats.set(k.kernelName, s);
        return r;
      }) as tf.KernelFunc,
    });
  }
}
const only = values.only;
if (!only || only === 'pretrain') await benchPretrain(backend);
