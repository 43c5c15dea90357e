/**
 * Convolutional building blocks over a ParamStore, NHWC activations, PyTorch semantics:
 *   conv2d (filter internal [kh, kw, in, out], symmetric integer padding), BatchNorm2d (train / eval),
 *   mmcv ConvModule (conv without bias -> BN -> ReLU), ConvTranspose2d with kernel == stride,
 *   MaxPool2d (floor mode), AdaptiveAvgPool2d with PyTorch's (possibly overlapping) bins.
 * BatchNorm in train mode never assigns: the new running statistics are pushed into `ctx.updates` (kept, so they
 * survive tf.tidy / tf.variableGrads; they do not feed the loss, so no gradient flows through them) and the caller
 * assigns them after the step with applyBnUpdates, or drops them with disposeBnUpdates.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './params.js';
import type { Rng } from '../io/rng.js';
import { normal, uniform } from './init.js';
import { evalConst, type EvalCache } from './eval-cache.js';
import { checkpoint } from './checkpoint.js';
import { resizeBilinear } from './resize.js';
import { batchNormTrainFused } from '../backend/fused.js';

export interface Conv2dOpts {
  stride?: number;
  padding?: number;
  dilation?: number;
}

/** nn.Conv2d: x [B, H, W, Cin] -> [B, H', W', Cout]; adds `${name}.bias` when the model has one. */
export function conv2d(p: ParamStore, name: string, x: tf.Tensor4D, o: Conv2dOpts = {}): tf.Tensor4D {
  const w = p.get(`${name}.weight`) as tf.Variable<tf.Rank.R4>; // [kh, kw, Cin, Cout]
  let y = conv2dWith(x, w, name, o);
  if (p.has(`${name}.bias`)) y = tf.add(y, p.get(`${name}.bias`));
  return y;
}

/**
 * The convolution itself with filter `w` [kh, kw, Cin, Cout]; `name` is for errors. `epilogue` (eval): + bias [Cout]
 * and optionally ReLU, in one fused kernel for the k×k case (the native engine applies both in the same call).
 */
function conv2dWith(x: tf.Tensor4D, w: tf.Tensor4D, name: string, o: Conv2dOpts, epilogue?: { bias: tf.Tensor1D; relu: boolean }): tf.Tensor4D {
  const { stride = 1, padding = 0, dilation = 1 } = o;
  const [kh, kw, cin, cout] = w.shape;
  if (x.shape[3] !== cin) throw new Error(`conv '${name}': input has ${x.shape[3]} channels, the filter expects ${cin}`);
  if (kh === 1 && kw === 1 && stride === 1 && padding === 0) {
    // A 1x1 conv is a plain 2-D matmul (the fast path on wasm, and no Conv2DBackpropFilter in the gradient).
    const [B, H, W] = x.shape;
    // [B, H, W, Cin] -> [B*H*W, Cin] x [Cin, Cout] -> [B, H, W, Cout]
    let y = tf.reshape(tf.matMul(tf.reshape(x, [B * H * W, cin]), tf.reshape(w, [cin, cout])), [B, H, W, cout]) as tf.Tensor4D;
    if (epilogue) y = tf.add(y, epilogue.bias);
    return epilogue?.relu ? tf.relu(y) : y;
  }
  if (epilogue) {
    const activation = epilogue.relu ? 'relu' : 'linear';
    return tf.fused.conv2d({ x, filter: w, strides: stride, pad: padding, dataFormat: 'NHWC', dilations: dilation, bias: epilogue.bias, activation });
  }
  return tf.conv2d(x, w, stride, padding, 'NHWC', dilation);
}

/**
 * nn.ConvTranspose2d with kernel_size == stride and padding 0 (Feature2Pyramid's k=2, s=2): the output blocks do
 * not overlap, so y[n, k*i+a, k*j+b, o] = bias[o] + Σ_c x[n, i, j, c] · W[c, o, a, b] is one matmul.
 * Filter internal layout [kh, kw, out, in] (torch [in, out, kh, kw]).
 */
export function convTranspose2d(p: ParamStore, name: string, x: tf.Tensor4D): tf.Tensor4D {
  const w = p.get(`${name}.weight`); // [kh, kw, Cout, Cin]
  const [kh, kw, cout, cin] = w.shape;
  const [B, H, W, C] = x.shape;
  if (C !== cin) throw new Error(`convT '${name}': input has ${C} channels, the filter expects ${cin}`);
  const hasBias = p.has(`${name}.bias`);
  // One custom-gradient op: the tape keeps x and the filter only (the composed reshape/transpose/add chain kept three
  // full-size copies of the output: 150 MB per ConvTranspose at 2 × 128² × 384).
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xin, wt] = args as [tf.Tensor4D, tf.Tensor4D];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save([xin, wt]);
    // [kh, kw, Cout, Cin] -> [Cin, kh, kw, Cout] -> [Cin, kh*kw*Cout]
    const wm = tf.reshape(tf.transpose(wt, [3, 0, 1, 2]), [cin, kh * kw * cout]);
    // [B*H*W, Cin] x [Cin, kh*kw*Cout] -> [B, H, W, kh, kw, Cout] -> [B, H, kh, W, kw, Cout] -> [B, H*kh, W*kw, Cout]
    const y = tf.reshape(tf.matMul(tf.reshape(xin, [B * H * W, cin]), wm), [B, H, W, kh, kw, cout]);
    let value = tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4, 5]), [B, H * kh, W * kw, cout]) as tf.Tensor4D;
    if (hasBias) value = tf.add(value, args[2] as tf.Tensor);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
          // dy [B, H*kh, W*kw, Cout] -> [B, H, kh, W, kw, Cout] -> [B, H, W, kh, kw, Cout] -> [B*H*W, kh*kw*Cout]
          const dyb = tf.reshape(tf.transpose(tf.reshape(dy, [B, H, kh, W, kw, cout]), [0, 1, 3, 2, 4, 5]), [B * H * W, kh * kw * cout]);
          const wmb = tf.reshape(tf.transpose(ws, [3, 0, 1, 2]), [cin, kh * kw * cout]);
          const dx = tf.reshape(tf.matMul(dyb, wmb, false, true), [B, H, W, cin]); // [B*H*W, Cin] -> [B, H, W, Cin]
          // [Cin, kh*kw*Cout] -> [Cin, kh, kw, Cout] -> [kh, kw, Cout, Cin]
          const dwm = tf.matMul(tf.reshape(xs, [B * H * W, cin]), dyb, true, false);
          const dw = tf.transpose(tf.reshape(dwm, [cin, kh, kw, cout]), [1, 2, 3, 0]);
          return hasBias ? [dx, dw, tf.sum(dy, [0, 1, 2])] : [dx, dw];
        }),
    };
  });
  return (hasBias ? op(x, w, p.get(`${name}.bias`)) : op(x, w)) as tf.Tensor4D;
}

/** How BatchNorm layers behave in one forward pass. */
export interface BnCtx {
  /** true: normalise with batch statistics and record new running stats; false: use the running stats. */
  training: boolean;
  /** Filled in train mode: `${bn}.running_mean`, `${bn}.running_var`, `${bn}.num_batches_tracked` -> new values. */
  updates: Map<string, tf.Tensor>;
  eps?: number;
  momentum?: number;
  /**
   * Eval only: tensors derived from the weights alone (BN scale/shift, BN folded into the conv filter, relative
   * position biases), built on first use and reused while the weights stay fixed. See EvalCache.
   */
  cache?: EvalCache;
}

export function bnCtx(training: boolean, o: { eps?: number; momentum?: number; cache?: EvalCache } = {}): BnCtx {
  if (training && o.cache) throw new Error('bnCtx: an eval cache cannot be used in train mode (the weights change)');
  return { training, updates: new Map(), ...o };
}

/** Eval BN as one affine map, computed once per session: scale = w / sqrt(rv + eps), shift = b − rm · scale, both [C]. */
function cachedBnAffine(p: ParamStore, name: string, eps: number, cache: EvalCache): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
  const scale = evalConst(cache, `${name}#scale`, () => tf.mul(p.get(`${name}.weight`), tf.rsqrt(tf.add(p.get(`${name}.running_var`), eps))) as tf.Tensor1D);
  const shift = evalConst(cache, `${name}#shift`, () => tf.sub(p.get(`${name}.bias`), tf.mul(p.get(`${name}.running_mean`), scale)) as tf.Tensor1D);
  return { scale, shift };
}

/**
 * nn.BatchNorm2d over NHWC. Eval: (x - rm) / sqrt(rv + eps) · w + b. Train: batch mean and biased variance over
 * (N, H, W) normalise; running = (1 - m)·running + m·stat with the unbiased variance; num_batches_tracked + 1.
 */
export function batchNorm(p: ParamStore, name: string, x: tf.Tensor4D, ctx: BnCtx): tf.Tensor4D {
  const eps = ctx.eps ?? 1e-5;
  const w = p.get(`${name}.weight`);
  const b = p.get(`${name}.bias`);
  const rm = p.get(`${name}.running_mean`);
  const rv = p.get(`${name}.running_var`);
  if (!ctx.training) {
    if (ctx.cache) {
      // x · scale + shift (two passes over x instead of three; the affine map is computed once per session)
      const { scale, shift } = cachedBnAffine(p, name, eps, ctx.cache);
      return tf.add(tf.mul(x, scale), shift);
    }
    const scale = tf.mul(w, tf.rsqrt(tf.add(rv, eps))); // [C]
    return tf.add(tf.mul(tf.sub(x, rm), scale), b);
  }
  return batchNormTrain(p, name, x, ctx, false);
}

/**
 * Train-mode BatchNorm2d (+ ReLU when `relu`) as one custom-gradient op. The composed ops (moments, sub, mul, rsqrt,
 * add, relu) would each keep a full-size map on the gradient tape — about five per ConvModule, 335 MB each time at
 * 2 × 128² × 512 (UPerHead at 512²); this op keeps only its input and output and recomputes x̂ in the backward:
 *   y = relu?(x̂·w + b), x̂ = (x − μ)·r, r = 1/sqrt(σ² + eps) over (N, H, W);
 *   g = dy·[y > 0]; dw = Σ g·x̂; db = Σ g; dx = (w·r / n)·(n·g − db − x̂·dw).
 * The running statistics are recorded in ctx.updates as in PyTorch (momentum, unbiased variance). With the native
 * engine the op is one kernel forward and one backward instead (batchNormTrainFused: same formula, double sums).
 */
function batchNormTrain(p: ParamStore, name: string, x: tf.Tensor4D, ctx: BnCtx, relu: boolean): tf.Tensor4D {
  const eps = ctx.eps ?? 1e-5;
  const m = ctx.momentum ?? 0.1;
  const [B, H, W] = x.shape;
  const n = B * H * W;
  // PyTorch refuses this too ("Expected more than 1 value per channel when training").
  if (n <= 1) throw new Error(`BatchNorm '${name}': expected more than 1 value per channel when training, got input [${x.shape}]`);
  if (ctx.updates.has(`${name}.running_mean`)) throw new Error(`BatchNorm '${name}' ran twice in one train forward`);
  const rm = p.get(`${name}.running_mean`);
  const rv = p.get(`${name}.running_var`);
  // running = (1 − m)·running + m·stat (unbiased variance); num_batches_tracked + 1 — kept past the forward's tidy
  const record = (mean: tf.Tensor, variance: tf.Tensor) => {
    ctx.updates.set(`${name}.running_mean`, tf.keep(tf.tidy(() => tf.add(tf.mul(rm, 1 - m), tf.mul(mean, m)))));
    ctx.updates.set(`${name}.running_var`, tf.keep(tf.tidy(() => tf.add(tf.mul(rv, 1 - m), tf.mul(tf.mul(variance, n / (n - 1)), m)))));
    if (p.has(`${name}.num_batches_tracked`)) {
      ctx.updates.set(`${name}.num_batches_tracked`, tf.keep(tf.add(p.get(`${name}.num_batches_tracked`), tf.scalar(1, 'int32'))));
    }
  };
  const fusedBn = batchNormTrainFused(x, p.get(`${name}.weight`), p.get(`${name}.bias`), eps, relu);
  if (fusedBn) {
    record(fusedBn.mean, fusedBn.variance);
    tf.dispose([fusedBn.mean, fusedBn.variance]);
    return fusedBn.y as tf.Tensor4D;
  }
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xin, w, b, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const { mean, variance } = tf.tidy(() => tf.moments(xin, [0, 1, 2])); // [C], biased
    const r = tf.rsqrt(tf.add(variance, eps));
    // the same ops in the same order as ((x − μ)·r·w + b), each full-size temporary freed as soon as it is used
    const y = chain(xin, [(t) => tf.sub(t, mean), (t) => tf.mul(t, r), (t) => tf.mul(t, w), (t) => tf.add(t, b), ...(relu ? [(t: tf.Tensor) => tf.relu(t)] : [])]) as tf.Tensor4D;
    record(mean, variance);
    save(relu ? [xin, w, y] : [xin, w]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          // Same ops in the same order as the formula above; each full-size temporary is disposed as soon as it is
          // used, so at most ~3 maps of x's size are alive besides dy and the saved tensors (a plain tidy kept ~9).
          const [xs, ws, ys] = saved;
          const { mean: mu, variance: v } = tf.tidy(() => tf.moments(xs, [0, 1, 2]));
          const rr = tf.rsqrt(tf.add(v, eps));
          const xhat = chain(xs, [(t) => tf.sub(t, mu), (t) => tf.mul(t, rr)]);
          const g = relu ? tf.tidy(() => tf.mul(dy, tf.step(ys))) : dy; // step(y) = [y > 0] for y = relu(·) >= 0
          const db = tf.sum(g, [0, 1, 2]);
          const dw = tf.tidy(() => tf.sum(tf.mul(g, xhat), [0, 1, 2]));
          const scale = tf.mul(ws, tf.div(rr, n));
          const s1 = chain(g, [(t) => tf.mul(t, n), (t) => tf.sub(t, db)]);
          if (g !== dy) g.dispose();
          const xd = tf.mul(xhat, dw);
          xhat.dispose();
          const s2 = tf.sub(s1, xd);
          tf.dispose([s1, xd]);
          const dx = tf.mul(scale, s2);
          return [dx, dw, db];
        }),
    };
  });
  return op(x, p.get(`${name}.weight`), p.get(`${name}.bias`)) as tf.Tensor4D;
}

/** fs[k](…fs[0](x)): each intermediate result is disposed once the next exists (x itself is left alone). */
function chain(x: tf.Tensor, fs: Array<(t: tf.Tensor) => tf.Tensor>): tf.Tensor {
  let t = x;
  for (const f of fs) {
    const next = f(t);
    if (t !== x) t.dispose();
    t = next;
  }
  return t;
}

/** Assign recorded BN running stats to the model, then dispose them (call after the optimiser step). */
export function applyBnUpdates(p: ParamStore, updates: Map<string, tf.Tensor>): void {
  for (const [name, t] of updates) {
    const v = p.get(name);
    if (v.dtype !== t.dtype || v.shape.join() !== t.shape.join()) {
      throw new Error(`BN update for '${name}' is ${t.dtype}[${t.shape}], the model holds ${v.dtype}[${v.shape}]`);
    }
    v.assign(t);
    t.dispose();
  }
  updates.clear();
}

export function disposeBnUpdates(updates: Map<string, tf.Tensor>): void {
  for (const t of updates.values()) t.dispose();
  updates.clear();
}

export interface ConvModuleOpts extends Conv2dOpts {
  /** Default true: ReLU after the norm. */
  act?: boolean;
}

/** mmcv ConvModule with norm: `${name}.conv` (bias='auto' -> no bias) -> `${name}.bn` -> ReLU. */
export function convModule(p: ParamStore, name: string, x: tf.Tensor4D, ctx: BnCtx, o: ConvModuleOpts = {}): tf.Tensor4D {
  if (!ctx.training && ctx.cache && !p.has(`${name}.conv.bias`)) {
    // Eval with a session cache: BN folded into the filter, conv(x, w · scale) + shift (+ ReLU) as one kernel — no
    // passes over the activations for the normalisation itself.
    const { scale, shift } = cachedBnAffine(p, `${name}.bn`, ctx.eps ?? 1e-5, ctx.cache);
    const w = evalConst(ctx.cache, `${name}#folded_weight`, () => tf.mul(p.get(`${name}.conv.weight`), scale) as tf.Tensor4D); // [kh, kw, Cin, Cout] · [Cout]
    return conv2dWith(x, w, `${name}.conv`, o, { bias: shift, relu: o.act !== false });
  }
  const c = conv2d(p, `${name}.conv`, x, o);
  if (ctx.training) return batchNormTrain(p, `${name}.bn`, c, ctx, o.act !== false);
  const y = batchNorm(p, `${name}.bn`, c, ctx);
  return o.act === false ? y : tf.relu(y);
}

/**
 * convModule over the channel-concatenation of `parts` (all [B, ·, ·, ·]), each first resized bilinearly to `size`
 * (UPerHead's fpn_bottleneck: the levels resized to level 0). In training neither the concat nor the resized parts
 * are kept: the conv is linear in its input, so conv(concat(up(parts)), W) = Σ_i conv(up(part_i), W[:, :, ch_i, :]),
 * and each term whose part needs resizing is checkpointed (the tape keeps the small part; the backward recomputes
 * the resize and the term). At 512² this keeps 1 map of [B, 128, 128, C] on the tape instead of 4 + the concat (4 more).
 * Eval concatenates and uses the folded-BN kernel as before.
 */
export function convModuleConcat(p: ParamStore, name: string, parts: tf.Tensor4D[], size: [number, number], ctx: BnCtx, o: ConvModuleOpts = {}): tf.Tensor4D {
  const up = (x: tf.Tensor4D) => resizeBilinear(x, size);
  if (!ctx.training || parts.length === 1) return convModule(p, name, parts.length === 1 ? up(parts[0]) : tf.concat(parts.map(up), 3), ctx, o);
  const w = p.get(`${name}.conv.weight`) as tf.Variable<tf.Rank.R4>; // [kh, kw, ΣCin, Cout]
  const total = parts.reduce((a, x) => a + x.shape[3], 0);
  if (total !== w.shape[2]) throw new Error(`conv '${name}.conv': inputs have ${total} channels together, the filter expects ${w.shape[2]}`);
  if (p.has(`${name}.conv.bias`)) throw new Error(`convModuleConcat '${name}': a conv bias is not supported (ConvModule with norm has none)`);
  // One tidy for the sum: the terms and partial sums (level-0 size each, none saved for the backward) are freed as
  // soon as the sum exists instead of when the whole forward ends.
  const y = tf.tidy(() => {
    let c0 = 0;
    let acc: tf.Tensor4D | null = null;
    for (const x of parts) {
      const [ci, start] = [x.shape[3], c0];
      // filter slice of this part: [kh, kw, ci, Cout]
      const term = (xx: tf.Tensor) => conv2dWith(up(xx as tf.Tensor4D), tf.slice(w, [0, 0, start, 0], [w.shape[0], w.shape[1], ci, w.shape[3]]) as tf.Tensor4D, `${name}.conv`, o);
      const same = x.shape[1] === size[0] && x.shape[2] === size[1];
      const yi = (same ? term(x) : checkpoint(term, [x], [w])) as tf.Tensor4D;
      const prev: tf.Tensor4D | null = acc;
      acc = prev ? addSameShape(prev, yi) : yi;
      if (prev) tf.dispose([prev, yi]);
      c0 += ci;
    }
    return acc!;
  });
  return batchNormTrain(p, `${name}.bn`, y, ctx, o.act !== false);
}

/** a + b for equal shapes without keeping a or b on the gradient tape (tf.add keeps both for broadcasting). */
export function addSameShape(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  if (!tf.util.arraysEqual(a.shape, b.shape)) throw new Error(`addSameShape: [${a.shape}] vs [${b.shape}]`);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.add(args[0] as tf.Tensor, args[1] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => [dy, dy],
  }));
  return op(a, b) as tf.Tensor4D;
}

/**
 * nn.MaxPool2d(k, k): floor mode, no padding. The gradient goes to the first maximum of each window (row-major,
 * as PyTorch's argmax index); computed with plain ops because the wasm MaxPoolGrad kernel (tfjs 4.22) returns
 * wrong values (measured: 23% off the cpu kernel on a 4x4 input).
 */
export function maxPool(x: tf.Tensor4D, k: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const ho = Math.floor(H / k);
  const wo = Math.floor(W / k);
  if (ho === 0 || wo === 0) throw new Error(`maxPool(${k}): input ${H}x${W} is smaller than the window`);
  const f = tf.customGrad<tf.Tensor4D>((...args) => {
    const [inp, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    save([inp]);
    return {
      value: tf.maxPool(inp, k, k, 'valid'),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const xin = tf.slice(saved[0], [0, 0, 0, 0], [B, ho * k, wo * k, C]);
          // [B, ho*k, wo*k, C] -> [B, ho, k, wo, k, C] -> [B, ho, wo, C, k, k] -> [B, ho, wo, C, k*k]
          const win = tf.reshape(tf.transpose(tf.reshape(xin, [B, ho, k, wo, k, C]), [0, 1, 3, 5, 2, 4]), [B, ho, wo, C, k * k]);
          const first = tf.oneHot(tf.argMax(win, 4), k * k); // [B, ho, wo, C, k*k], 1 at the first max
          const g = tf.mul(first, tf.expandDims(dy, 4)); // [B, ho, wo, C, k*k]
          // back: [B, ho, wo, C, k, k] -> [B, ho, k, wo, k, C] -> [B, ho*k, wo*k, C], zero-padded to [B, H, W, C]
          const back = tf.reshape(tf.transpose(tf.reshape(g, [B, ho, wo, C, k, k]), [0, 1, 4, 2, 5, 3]), [B, ho * k, wo * k, C]);
          return tf.pad(back, [[0, 0], [0, H - ho * k], [0, W - wo * k], [0, 0]]);
        }),
    };
  });
  return f(x);
}

/** PyTorch adaptive-pool bins along one axis: [floor(i·n/s), ceil((i+1)·n/s)) for i < s. */
export function adaptiveBins(n: number, s: number): Array<[number, number]> {
  const bins: Array<[number, number]> = [];
  for (let i = 0; i < s; i++) bins.push([Math.floor((i * n) / s), Math.ceil(((i + 1) * n) / s)]);
  return bins;
}

/**
 * nn.AdaptiveAvgPool2d(out): x [B, H, W, C] -> [B, oh, ow, C]. Bins may overlap and `out` may exceed the input
 * size, so it is computed as one matmul with the constant pooling matrix M[(i, j), (h, w)] = 1/|bin| on the bin.
 */
export function adaptiveAvgPool(x: tf.Tensor4D, out: number | [number, number]): tf.Tensor4D {
  const [oh, ow] = typeof out === 'number' ? [out, out] : out;
  const [B, H, W, C] = x.shape;
  const bh = adaptiveBins(H, oh);
  const bw = adaptiveBins(W, ow);
  const m = new Float32Array(oh * ow * H * W);
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      const [h0, h1] = bh[i];
      const [w0, w1] = bw[j];
      const inv = 1 / ((h1 - h0) * (w1 - w0));
      const row = (i * ow + j) * H * W;
      for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) m[row + h * W + w] = inv;
    }
  }
  // x: [B, H, W, C] -> [H, W, B, C] -> [H*W, B*C]; M [oh*ow, H*W] x -> [oh*ow, B*C] -> [oh, ow, B, C] -> [B, oh, ow, C]
  const xs = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [H * W, B * C]);
  const y = tf.matMul(tf.tensor2d(m, [oh * ow, H * W]), xs);
  return tf.transpose(tf.reshape(y, [oh, ow, B, C]), [2, 0, 1, 3]);
}

// ---------------------------------------------------------------- initialisation

/** Conv weight ~ kaiming_normal(mode='fan_out', relu): std = sqrt(2 / (out·kh·kw)) (mmcv ConvModule.init_weights). */
export function addConv(p: ParamStore, rng: Rng, name: string, cin: number, cout: number, k: number, bias: boolean): void {
  p.add(`${name}.weight`, normal(rng, [k, k, cin, cout], Math.sqrt(2 / (cout * k * k))), 'conv');
  if (bias) p.add(`${name}.bias`, tf.zeros([cout]));
}

/** BatchNorm2d: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0 (int buffer). */
export function addBatchNorm(p: ParamStore, name: string, c: number): void {
  p.add(`${name}.weight`, tf.ones([c]));
  p.add(`${name}.bias`, tf.zeros([c]));
  p.add(`${name}.running_mean`, tf.zeros([c]), 'plain', false);
  p.add(`${name}.running_var`, tf.ones([c]), 'plain', false);
  p.add(`${name}.num_batches_tracked`, tf.scalar(0, 'int32'), 'plain', false, true);
}

/** ConvModule params in state_dict order: conv.weight (no bias), bn.*. */
export function addConvModule(p: ParamStore, rng: Rng, name: string, cin: number, cout: number, k: number): void {
  addConv(p, rng, `${name}.conv`, cin, cout, k, false);
  addBatchNorm(p, `${name}.bn`, cout);
}

/**
 * ConvTranspose2d with PyTorch's default init (kaiming_uniform a=sqrt(5)): weight and bias ~ U(±1/sqrt(fan_in)),
 * fan_in = weight.size(1)·kh·kw = out·kh·kw for a transposed conv. Internal layout [kh, kw, out, in].
 */
export function addConvTranspose(p: ParamStore, rng: Rng, name: string, cin: number, cout: number, k: number): void {
  const bound = 1 / Math.sqrt(cout * k * k);
  p.add(`${name}.weight`, uniform(rng, [k, k, cout, cin], bound), 'convT');
  p.add(`${name}.bias`, uniform(rng, [cout], bound));
}
