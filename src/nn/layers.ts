/**
 * Functional building blocks over a ParamStore. Activations are [B, N, D] tokens or NHWC maps; every function
 * here only composes tf ops, so callers run it inside tf.tidy / tf.variableGrads.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './params.js';
import * as fk from '../backend/fused.js';
import type { Rng } from '../io/rng.js';
import { normal, uniform, xavierBound } from './init.js';

/** y = x · W + b over the last axis; W internal [in, out] (torch [out, in]). */
export function linear(p: ParamStore, name: string, x: tf.Tensor): tf.Tensor {
  const w = p.get(`${name}.weight`);
  const [din, dout] = w.shape;
  const b = p.has(`${name}.bias`) ? p.get(`${name}.bias`) : null;
  const fused = x.rank >= 2 ? fk.linearFused(x, w, b) : null; // one native GEMM (bias fused) forward and backward, any rank
  if (fused) return fused;
  // x: [..., in] -> [M, in] -> [M, out] -> [..., out]
  const x2 = tf.reshape(x, [-1, din]);
  let y = tf.matMul(x2, w);
  if (b) y = tf.add(y, b);
  return tf.reshape(y, [...x.shape.slice(0, -1), dout]);
}

/** nn.LayerNorm over the last axis: (x - mean) / sqrt(var_biased + eps) * w + b. */
export function layerNorm(p: ParamStore, name: string, x: tf.Tensor, eps: number): tf.Tensor {
  return fk.layerNorm(x, p.get(`${name}.weight`), p.get(`${name}.bias`), eps); // fused natively when available
}

/** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return fk.gelu(x); // fused natively when available
}

export interface AttentionOpts {
  numHeads: number;
  /** Defaults to head_dim^-0.5. */
  scale?: number;
  /** Added to the logits: [H, N, N] (relative position bias). */
  bias?: tf.Tensor;
}

/** Multi-head self-attention with a fused qkv Linear ([q | k | v], heads contiguous inside each third). */
export function attention(p: ParamStore, name: string, x: tf.Tensor, o: AttentionOpts): tf.Tensor {
  const [B, N, D] = x.shape;
  const H = o.numHeads;
  const hd = D / H;
  const qkv = linear(p, `${name}.qkv`, x); // [B, N, 3D]
  // native fused softmax(q kᵀ · scale [+ bias]) v per head when available: [B, N, D]
  const fused = fk.attentionCore(qkv, H, o.scale ?? hd ** -0.5, o.bias);
  if (fused) return linear(p, `${name}.proj`, fused);
  // [B, N, 3D] -> [B, N, 3, H, hd] -> [3, B, H, N, hd]
  const t = tf.transpose(tf.reshape(qkv, [B, N, 3, H, hd]), [2, 0, 3, 1, 4]);
  const [q, k, v] = tf.unstack(t, 0) as tf.Tensor4D[]; // each [B, H, N, hd]
  let logits = tf.mul(tf.matMul(q, k, false, true), o.scale ?? hd ** -0.5); // [B, H, N, N]
  if (o.bias) logits = tf.add(logits, o.bias);
  const attn = tf.softmax(logits, -1);
  const out = tf.matMul(attn, v); // [B, H, N, hd]
  // [B, H, N, hd] -> [B, N, H, hd] -> [B, N, D]
  const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [B, N, D]);
  return linear(p, `${name}.proj`, merged);
}

/** mmcv FFN: layers.1(GELU(layers.0.0(x))). */
export function ffn(p: ParamStore, name: string, x: tf.Tensor): tf.Tensor {
  const [l1, l2] = [`${name}.layers.0.0`, `${name}.layers.1`];
  if (p.has(`${l1}.bias`) && p.has(`${l2}.bias`)) {
    // x: [..., in] -> [..., out]; one native kernel forward and backward when available
    const y = x.rank >= 2 ? fk.ffnFused(x, p.get(`${l1}.weight`), p.get(`${l1}.bias`), p.get(`${l2}.weight`), p.get(`${l2}.bias`)) : null;
    if (y) return y;
  }
  return linear(p, l2, gelu(linear(p, l1, x)));
}

/** One DropPath draw for a batch: the 0/1 keep mask of mmcv drop_path (floor(keep + U[0,1)) per sample). */
export interface DropPathDraw {
  keep: number;
  mask: Float32Array;
}

/** Draw the mask of one DropPath for B samples (one uniform per sample, in batch order); null = identity. */
export function drawDropPath(B: number, prob: number, rng: Rng | null): DropPathDraw | null {
  if (rng === null || prob <= 0) return null;
  const keep = 1 - prob;
  const mask = new Float32Array(B);
  for (let b = 0; b < B; b++) mask[b] = Math.floor(keep + rng.random());
  return { keep, mask };
}

/**
 * mmcv drop_path with a drawn mask: x / keep · mask[b] (mask [B] broadcast over the other axes), as one division
 * x / q[b] with q = keep where the mask is 1 and +Infinity where it is 0: the same bits (x / keep, or a zero of x's
 * sign; NaN stays NaN) and the same gradient bits (dy / keep or a signed zero) as the two ops, in one pass.
 */
export function applyDropPath(x: tf.Tensor, d: DropPathDraw | null): tf.Tensor {
  if (!d) return x;
  const q = Float32Array.from(d.mask, (m) => (m ? d.keep : Infinity));
  return tf.div(x, tf.tensor(q, [q.length, ...x.shape.slice(1).map(() => 1)])); // q: [B] -> [B, 1, ...]
}

/** mmcv drop_path: draw and apply (see drawDropPath). */
export function dropPath(x: tf.Tensor, prob: number, rng: Rng | null): tf.Tensor {
  return applyDropPath(x, drawDropPath(x.shape[0], prob, rng));
}

/** np.linspace(0, stop, n) in float64: i·(stop/(n−1)), the last value exactly stop (mmpretrain VisionTransformer's dpr). */
export function linspaceNp(stop: number, n: number): number[] {
  if (n === 1) return [0];
  const step = stop / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? stop : i * step));
}

/**
 * [x.item() for x in torch.linspace(0, stop, n)] with torch's default float32 (mmseg MAE/BEiT's dpr): float32 step,
 * the first half counted up from 0 and the second half down from stop, as ATen's scalar linspace kernel does (exact
 * for n ≤ 16; for longer schedules ATen's vectorised path, whose width depends on the CPU, can differ by 1 ulp).
 */
export function linspaceTorchF32(stop: number, n: number): number[] {
  const f = Math.fround;
  if (n === 1) return [0];
  const end = f(stop);
  const step = f(end / (n - 1));
  const half = Math.floor(n / 2);
  return Array.from({ length: n }, (_, i) => (i < half ? f(step * i) : f(end - f(step * (n - 1 - i)))));
}

export interface BlockOpts {
  numHeads: number;
  eps: number;
  /** Added to the attention logits, [H, N, N] (BEiT relative position bias). */
  bias?: tf.Tensor;
  /** Layer-scale: the branches are multiplied by `${name}.gamma_1` / `gamma_2` (BEiT / mmseg MAE). */
  layerScale?: boolean;
  /** DropPath of the attention and FFN branches, drawn by the caller in that order (drawDropPath). */
  drop?: [DropPathDraw | null, DropPathDraw | null];
}

/**
 * The pre-norm ViT block of every model here (mmpretrain TransformerEncoderLayer, mmseg MAE/BEiT layer):
 *   h = x + drop(γ1 · attn(ln1 x) [+ relative bias]);  out = h + drop(γ2 · ffn(ln2 h)).
 * The qkv bias is used when the model has one (`${name}.attn.qkv.bias`).
 */
export function block(p: ParamStore, name: string, x: tf.Tensor, o: BlockOpts): tf.Tensor {
  return blockStep(p, name, x, null, o, null)[0];
}

/**
 * Blocks `names` in sequence from x, the same numbers as calling block() in a loop: opts(i) (block i's options) is
 * called once per block, in order, just before it runs (so drop-path draws keep their order); tap(i, out) sees each
 * block's output. Each block's last residual sum and the next block's ln1 (same eps) run as one fused pass when the
 * engine has it (src/backend/fused.ts addLayerNorm).
 */
export function blocks(p: ParamStore, names: string[], x: tf.Tensor, opts: (i: number) => BlockOpts, tap?: (i: number, out: tf.Tensor) => void): tf.Tensor {
  let xn: tf.Tensor | null = null;
  for (let i = 0; i < names.length; i++) {
    const o = opts(i);
    const next = i + 1 < names.length ? { name: `${names[i + 1]}.ln1`, eps: o.eps } : null;
    [x, xn] = blockStep(p, names[i], x, xn, o, next);
    tap?.(i, x);
  }
  return x;
}

/** One block from x (xn: ln1(x) when already computed); with `next`, also returns that LayerNorm of the output. */
function blockStep(p: ParamStore, name: string, x: tf.Tensor, xn: tf.Tensor | null, o: BlockOpts, next: { name: string; eps: number } | null): [tf.Tensor, tf.Tensor | null] {
  const [d1, d2] = o.drop ?? [null, null];
  const scale = (t: tf.Tensor, g: string) => (o.layerScale ? tf.mul(p.get(`${name}.${g}`), t) : t);
  const a = attention(p, `${name}.attn`, xn ?? layerNorm(p, `${name}.ln1`, x, o.eps), { numHeads: o.numHeads, bias: o.bias });
  const branch = applyDropPath(scale(a, 'gamma_1'), d1);
  // h = x + branch and ln2(h): one native pass (and one backward) when available
  const [h, hn] = fk.addLayerNorm(x, branch, p.get(`${name}.ln2.weight`), p.get(`${name}.ln2.bias`), o.eps) ?? [tf.add(x, branch), null];
  const f = ffn(p, `${name}.ffn`, hn ?? layerNorm(p, `${name}.ln2`, h, o.eps));
  const branch2 = applyDropPath(scale(f, 'gamma_2'), d2);
  const fused = next ? fk.addLayerNorm(h, branch2, p.get(`${next.name}.weight`), p.get(`${next.name}.bias`), next.eps) : null;
  return fused ?? [tf.add(h, branch2), null];
}

// ---------------------------------------------------------------- initialisation

export type BiasInit = 'zero' | { std: number };

/** nn.Linear with Xavier-uniform weight (mmengine XavierInit) and the given bias init. */
export function addLinear(p: ParamStore, rng: Rng, name: string, din: number, dout: number, bias: BiasInit = 'zero'): void {
  p.add(`${name}.weight`, uniform(rng, [din, dout], xavierBound(din, dout)), 'linear');
  p.add(`${name}.bias`, bias === 'zero' ? tf.zeros([dout]) : normal(rng, [dout], bias.std), 'plain');
}

export function addLayerNorm(p: ParamStore, name: string, d: number): void {
  p.add(`${name}.weight`, tf.ones([d]));
  p.add(`${name}.bias`, tf.zeros([d]));
}

/**
 * A transformer block's parameters, in state_dict order. `ffnBias` is N(0, 1e-6) for encoder blocks (mmcv
 * FFN re-init) and 0 for MAE decoder blocks (a torch ModuleList: their init_weights never runs).
 */
export function addBlock(p: ParamStore, rng: Rng, name: string, d: number, ffnDim: number, ffnBias: BiasInit): void {
  addLayerNorm(p, `${name}.ln1`, d);
  addLinear(p, rng, `${name}.attn.qkv`, d, 3 * d);
  addLinear(p, rng, `${name}.attn.proj`, d, d);
  addLayerNorm(p, `${name}.ln2`, d);
  addLinear(p, rng, `${name}.ffn.layers.0.0`, d, ffnDim, ffnBias);
  addLinear(p, rng, `${name}.ffn.layers.1`, ffnDim, d, ffnBias);
}
