/**
 * Optimisers over a ParamStore's trainable variables, with per-parameter groups {lrScale, weightDecay}, matching
 * PyTorch's single-tensor code paths:
 *   AdamW  torch.optim.AdamW          p *= 1 − lr·wd; m = lerp(m, g, 1−β1); v = β2 v + (1−β2) g²;
 *                                      p −= lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps)
 *   SGD    torch.optim.SGD            d = g + wd·p; buf = d (first step) | μ buf + (1−damp) d; p −= lr · buf
 *   LARS   mmpretrain LARS            local = eta‖p‖/(‖g‖ + wd‖p‖ + eps) (1 if a norm is 0 or the group is
 *                                      excluded); d = (g + wd·p)·lr·local; buf as SGD; p −= buf
 * The lr of a parameter is lr·lrScale, or lr(lrScale) when step() gets a function (see schedule.ts groupLr).
 * State tensors are held in the internal layout and written in PyTorch layout, keyed
 * `optimizer.<param>.{exp_avg,exp_avg_sq,momentum_buffer,step}` plus `optimizer.step`, so a resumed run continues
 * bit-exactly. Scalars are float64 in JS (as PyTorch's Python floats); tensor maths is float32.
 * `stateInHostMemory` (AdamW): exp_avg / exp_avg_sq live in JS Float32Arrays instead of tensors, i.e. outside the
 * 4 GB wasm heap that holds every tensor on the CPU engine (ViT-B UperNet: 1.3 GB moved out); without the native
 * addon the update is a JS loop with float32 rounding after every operation, in the fused kernel's operation order,
 * so the numbers are bitwise those of the tensor path.
 * AdamW on the native engine updates every parameter in place in one call (backend/fused.ts adamwInPlace: tensor or
 * host state, same arithmetic; 139 parameters of the benchmark suite's UperNet: 33 ms → 1 ms per step); parameters
 * it cannot take (a shared buffer) get the per-parameter path.
 */
import * as tf from '@tensorflow/tfjs';
import type { Layout, ParamStore } from '../nn/params.js';
import type { StTensor } from '../io/safetensors.js';
import { adamwInPlace, adamwUpdate, type AdamWItem } from '../backend/fused.js';

export type OptimizerSpec =
  | { type: 'AdamW'; betas?: [number, number]; eps?: number }
  | { type: 'SGD'; momentum?: number; dampening?: number; nesterov?: boolean }
  | { type: 'LARS'; momentum?: number; dampening?: number; nesterov?: boolean; eta?: number; eps?: number };

export interface GroupSettings {
  lrScale: number;
  /** Absolute weight decay of this parameter. */
  weightDecay: number;
  /** LARS only: skip the trust ratio (mmpretrain `lars_exclude`). */
  larsExclude?: boolean;
}

/** A learning rate, or the lr of a group as a function of its lrScale. */
export type LrArg = number | ((lrScale: number) => number);

export interface Optimizer {
  /** One update. `grads` is keyed by parameter name (internal layout); parameters without a gradient are skipped. */
  step(grads: Map<string, tf.Tensor>, lr: LrArg): void;
  state(): Map<string, StTensor>;
  loadState(m: Map<string, StTensor>, file?: string): void;
  /** Number of step() calls so far (restored by loadState). */
  stepCount: number;
  dispose(): void;
}

// internal -> PyTorch layout permutations (see nn/params.ts)
const TO_TORCH: Record<Layout, number[] | null> = { plain: null, linear: [1, 0], conv: [3, 2, 0, 1], convT: [3, 2, 0, 1] };
const TO_INTERNAL: Record<Layout, number[] | null> = { plain: null, linear: [1, 0], conv: [2, 3, 1, 0], convT: [2, 3, 1, 0] };

interface Slot {
  name: string;
  param: tf.Variable;
  layout: Layout;
  group: GroupSettings;
  /** Steps this parameter has taken (torch keeps it per parameter). */
  steps: number;
  buffers: Record<string, tf.Variable>;
  /** stateInHostMemory: the buffers as host arrays in the internal layout (then `buffers` is empty). */
  host: Record<string, Float32Array> | null;
}

export interface OptimizerOptions {
  /** AdamW only: keep exp_avg / exp_avg_sq in JS memory, outside the tensor heap (see the module comment). */
  stateInHostMemory?: boolean;
}

function bufferNames(spec: OptimizerSpec): string[] {
  if (spec.type === 'AdamW') return ['exp_avg', 'exp_avg_sq'];
  return (spec.momentum ?? 0) !== 0 ? ['momentum_buffer'] : [];
}

function checkSpec(spec: OptimizerSpec): void {
  const bad = (msg: string) => {
    throw new Error(`optimizer ${spec.type}: ${msg}`);
  };
  if (spec.type === 'AdamW') {
    const [b1, b2] = spec.betas ?? [0.9, 0.999];
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) bad(`betas must be in [0, 1), got [${b1}, ${b2}]`);
    if (!((spec.eps ?? 1e-8) >= 0)) bad(`eps must be >= 0, got ${spec.eps}`);
  } else {
    const { momentum = 0, dampening = 0, nesterov = false } = spec;
    if (!(momentum >= 0)) bad(`momentum must be >= 0, got ${momentum}`);
    if (nesterov && (momentum <= 0 || dampening !== 0)) bad('Nesterov momentum requires a momentum and zero dampening');
    if (spec.type === 'LARS' && !((spec.eta ?? 1e-3) >= 0)) bad(`eta must be >= 0, got ${spec.eta}`);
  }
}

function toTorch(t: tf.Tensor, layout: Layout): StTensor {
  const perm = TO_TORCH[layout];
  const x = perm ? tf.transpose(t, perm) : t;
  const out: StTensor = { dtype: 'F32', shape: x.shape.slice(), data: Float32Array.from(x.dataSync()) };
  if (x !== t) x.dispose();
  return out;
}

function scalarI64(n: number): StTensor {
  return { dtype: 'I64', shape: [], data: Int32Array.of(n) };
}

class TorchLikeOptimizer implements Optimizer {
  stepCount = 0;
  private readonly slots = new Map<string, Slot>();
  private readonly bufs: string[];

  constructor(
    private readonly spec: OptimizerSpec,
    params: ParamStore,
    groups: Map<string, GroupSettings>,
    opts: OptimizerOptions = {},
  ) {
    checkSpec(spec);
    if (opts.stateInHostMemory && spec.type !== 'AdamW') throw new Error(`optimizer ${spec.type}: stateInHostMemory is implemented for AdamW only`);
    this.bufs = bufferNames(spec);
    for (const name of params.trainableNames()) {
      const g = groups.get(name);
      if (!g) throw new Error(`optimizer: no parameter group for trainable parameter '${name}'`);
      if (!(Number.isFinite(g.lrScale) && g.weightDecay >= 0)) throw new Error(`optimizer: bad group for '${name}': ${JSON.stringify(g)}`);
      const e = params.entries.get(name)!;
      const buffers: Record<string, tf.Variable> = {};
      const host: Record<string, Float32Array> | null = opts.stateInHostMemory ? {} : null;
      for (const b of this.bufs) {
        if (host) {
          host[b] = new Float32Array(e.v.size);
          continue;
        }
        const zeros = tf.zerosLike(e.v);
        buffers[b] = tf.variable(zeros, false, `optimizer.${name}.${b}.${uid()}`);
        zeros.dispose();
      }
      this.slots.set(name, { name, param: e.v, layout: e.layout, group: g, steps: 0, buffers, host });
    }
    for (const name of groups.keys()) {
      if (!this.slots.has(name) && !params.has(name)) throw new Error(`optimizer: parameter group given for unknown parameter '${name}'`);
    }
  }

  step(grads: Map<string, tf.Tensor>, lr: LrArg): void {
    const lrOf = (s: number) => (typeof lr === 'number' ? lr * s : lr(s));
    const active: { slot: Slot; grad: tf.Tensor; lr: number }[] = [];
    for (const [name, grad] of grads) {
      const slot = this.slots.get(name);
      if (!slot) throw new Error(`optimizer: gradient for '${name}', which is not a trainable parameter of this optimizer`);
      if (!tf.util.arraysEqual(grad.shape, slot.param.shape)) {
        throw new Error(`optimizer: gradient for '${name}' has shape [${grad.shape}], the parameter [${slot.param.shape}]`);
      }
      const l = lrOf(slot.group.lrScale);
      if (!Number.isFinite(l)) throw new Error(`optimizer: lr for '${name}' is ${l}`);
      active.push({ slot, grad, lr: l });
    }
    const local = this.spec.type === 'LARS' ? this.larsLocalLr(active) : null;
    for (const a of active) a.slot.steps += 1;
    // AdamW: every parameter the native engine can update in place, in one call (no per-parameter tensor dispatch)
    const done = this.spec.type === 'AdamW' ? adamwInPlace(active.map(({ slot, grad, lr: l }) => this.adamwItem(slot, grad, l))) : [];
    active.forEach(({ slot, grad, lr: l }, i) => {
      if (done[i]) return;
      tf.tidy(() => {
        if (this.spec.type === 'AdamW') this.adamw(slot, grad, l);
        else this.sgd(slot, grad, local ? l * local[i] : l, local !== null);
      });
    });
    this.stepCount += 1;
  }

  private adamwItem(s: Slot, grad: tf.Tensor, lr: number): AdamWItem {
    const spec = this.spec as Extract<OptimizerSpec, { type: 'AdamW' }>;
    const [beta1, beta2] = spec.betas ?? [0.9, 0.999];
    const h = { lr, weightDecay: s.group.weightDecay, beta1, beta2, eps: spec.eps ?? 1e-8, step: s.steps };
    return { param: s.param, m: s.host ? s.host.exp_avg : s.buffers.exp_avg, v: s.host ? s.host.exp_avg_sq : s.buffers.exp_avg_sq, grad, h };
  }

  private adamw(s: Slot, g: tf.Tensor, lr: number): void {
    const spec = this.spec as Extract<OptimizerSpec, { type: 'AdamW' }>;
    const [b1, b2] = spec.betas ?? [0.9, 0.999];
    const eps = spec.eps ?? 1e-8;
    const t = s.steps;
    if (s.host) {
      this.adamwHost(s, g, lr, b1, b2, eps, t);
      return;
    }
    const { exp_avg: m, exp_avg_sq: v } = s.buffers;
    // one native pass when the CPU engine is loaded (bitwise equal to the composed update below)
    const fused = adamwUpdate(s.param, m, v, g, { lr, weightDecay: s.group.weightDecay, beta1: b1, beta2: b2, eps, step: t });
    if (fused) {
      m.assign(fused[1]);
      v.assign(fused[2]);
      s.param.assign(fused[0]);
      return;
    }
    const p = s.group.weightDecay !== 0 ? tf.mul(s.param, 1 - lr * s.group.weightDecay) : s.param;
    const m1 = tf.add(m, tf.mul(tf.sub(g, m), 1 - b1)); // torch lerp_(grad, 1 - beta1)
    const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.mul(g, g), 1 - b2));
    const stepSize = lr / (1 - b1 ** t);
    const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(1 - b2 ** t)), eps);
    m.assign(m1);
    v.assign(v1);
    s.param.assign(tf.sub(p, tf.mul(tf.div(m1, denom), stepSize)));
  }

  /** AdamW on host-memory state: the fused kernel's operation order with float32 rounding after each operation. */
  private adamwHost(s: Slot, grad: tf.Tensor, lr: number, b1: number, b2: number, eps: number, t: number): void {
    const f = Math.fround;
    const P = s.param.dataSync() as Float32Array;
    const G = grad.dataSync() as Float32Array;
    const M = s.host!.exp_avg;
    const V = s.host!.exp_avg_sq;
    const hasDecay = s.group.weightDecay !== 0;
    const decay = f(1 - lr * s.group.weightDecay);
    const c1 = f(1 - b1);
    const b2f = f(b2);
    const c2 = f(1 - b2);
    const bc2 = f(Math.sqrt(1 - b2 ** t));
    const epsf = f(eps);
    const ss = f(lr / (1 - b1 ** t));
    const out = new Float32Array(P.length);
    for (let i = 0; i < P.length; i++) {
      const p = hasDecay ? f(P[i] * decay) : P[i];
      const g = G[i];
      const m1 = f(M[i] + f(f(g - M[i]) * c1));
      const v1 = f(f(V[i] * b2f) + f(f(g * g) * c2));
      const denom = f(f(f(Math.sqrt(v1)) / bc2) + epsf);
      M[i] = m1;
      V[i] = v1;
      out[i] = f(p - f(f(m1 / denom) * ss));
    }
    s.param.assign(tf.tensor(out, s.param.shape, 'float32'));
  }

  /** SGD, or LARS when `lrIsFolded` (lr already multiplied by the trust ratio and folded into the buffer). */
  private sgd(s: Slot, g: tf.Tensor, lr: number, lrIsFolded: boolean): void {
    const spec = this.spec as Extract<OptimizerSpec, { type: 'SGD' | 'LARS' }>;
    const { momentum = 0, dampening = 0, nesterov = false } = spec;
    const wd = s.group.weightDecay;
    let d: tf.Tensor = wd !== 0 ? tf.add(g, tf.mul(s.param, wd)) : g;
    if (lrIsFolded) d = tf.mul(d, lr);
    if (momentum !== 0) {
      const buf = s.buffers.momentum_buffer;
      const b1 = s.steps === 1 ? d : tf.add(tf.mul(buf, momentum), dampening !== 0 ? tf.mul(d, 1 - dampening) : d);
      buf.assign(b1);
      d = nesterov ? tf.add(d, tf.mul(b1, momentum)) : b1;
    }
    s.param.assign(tf.sub(s.param, lrIsFolded ? d : tf.mul(d, lr)));
  }

  /** mmpretrain LARS trust ratio per parameter (norms read in one sync). */
  private larsLocalLr(active: { slot: Slot; grad: tf.Tensor }[]): number[] {
    if (!active.length) return [];
    const spec = this.spec as Extract<OptimizerSpec, { type: 'LARS' }>;
    const { eta = 1e-3, eps = 1e-8 } = spec;
    const norms = tf.tidy(() => tf.stack(active.flatMap(({ slot, grad }) => [tf.norm(slot.param), tf.norm(grad)])));
    const nv = norms.dataSync();
    norms.dispose();
    return active.map(({ slot }, i) => {
      const wn = nv[2 * i];
      const gn = nv[2 * i + 1];
      if (slot.group.larsExclude || wn === 0 || gn === 0) return 1;
      return (eta * wn) / (gn + slot.group.weightDecay * wn + eps);
    });
  }

  state(): Map<string, StTensor> {
    const out = new Map<string, StTensor>();
    out.set('optimizer.step', scalarI64(this.stepCount));
    for (const s of this.slots.values()) {
      out.set(`optimizer.${s.name}.step`, scalarI64(s.steps));
      for (const b of this.bufs) {
        if (!s.host) out.set(`optimizer.${s.name}.${b}`, toTorch(s.buffers[b], s.layout));
        else {
          const x = tf.tensor(s.host[b], s.param.shape, 'float32');
          out.set(`optimizer.${s.name}.${b}`, toTorch(x, s.layout));
          x.dispose();
        }
      }
    }
    return out;
  }

  loadState(m: Map<string, StTensor>, file = '<optimizer state>'): void {
    const get = (key: string): StTensor => {
      const t = m.get(key);
      if (!t) throw new Error(`${file}: optimizer state '${key}' is missing (is this a ${this.spec.type} state?)`);
      return t;
    };
    const steps = Number(get('optimizer.step').data[0]);
    // Validate everything before assigning anything.
    const pending: { s: Slot; b: string; t: StTensor; layout: Layout; key: string }[] = [];
    const slotSteps: [Slot, number][] = [];
    for (const s of this.slots.values()) {
      slotSteps.push([s, Number(get(`optimizer.${s.name}.step`).data[0])]);
      for (const b of this.bufs) {
        const key = `optimizer.${s.name}.${b}`;
        const t = get(key);
        const perm = TO_TORCH[s.layout];
        const want = perm ? perm.map((i) => s.param.shape[i]) : s.param.shape;
        if (!tf.util.arraysEqual(t.shape, want)) throw new Error(`${file}: '${key}' has shape [${t.shape}], the parameter needs [${want}]`);
        pending.push({ s, b, t, layout: s.layout, key });
      }
    }
    for (const { s, b, t, layout } of pending) {
      tf.tidy(() => {
        const x = tf.tensor(Float32Array.from(t.data), t.shape, 'float32');
        const perm = TO_INTERNAL[layout];
        const internal = perm ? tf.transpose(x, perm) : x;
        if (s.host) s.host[b].set(internal.dataSync() as Float32Array);
        else s.buffers[b].assign(internal);
      });
    }
    for (const [s, n] of slotSteps) s.steps = n;
    this.stepCount = steps;
  }

  dispose(): void {
    for (const s of this.slots.values()) for (const b of Object.values(s.buffers)) b.dispose();
    this.slots.clear();
  }
}

let uidCounter = 0;
/** tf.variable names must be unique per process; several optimisers may live side by side (tests, resume). */
function uid(): number {
  return uidCounter++;
}

export function createOptimizer(spec: OptimizerSpec, params: ParamStore, groups: Map<string, GroupSettings>, opts: OptimizerOptions = {}): Optimizer {
  return new TorchLikeOptimizer(spec, params, groups, opts);
}
