/**
 * The fused ops model code calls: `gelu`, `layerNorm`, `addLayerNorm`, `linearFused`, `ffnFused`, `attentionCore`,
 * `adamwUpdate`, `batchNormTrainFused` and `segCrossEntropy` / `segCrossEntropyGrad`. On the wasm engine with the
 * native addon each is one native kernel forward and one backward (MffGelu, MffLayerNorm, MffAddLayerNorm, MffLinear /
 * MffLinearNoBias, MffFfn, MffAttention, MffAdamW, MffBatchNormTrain, MffSegCe; src/backend/fused-kernels.ts);
 * otherwise (no addon, another backend, non-float32) `gelu` and `layerNorm` compose stock ops and the others return
 * null (the caller composes).
 */
import * as tf from '@tensorflow/tfjs';
import { loadNative } from './native.js';
import type { WasmBackend } from './heap.js';
import { fusedKernelsRegistered } from './registry.js';

/** The fused kernels are registered, the addon loaded, the wasm backend active and every tensor float32. */
const fusedReady = (...ts: tf.Tensor[]) =>
  fusedKernelsRegistered() && loadNative() !== null && tf.getBackend() === 'wasm' && ts.every((t) => t.dtype === 'float32');

/** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)): one native pass forward and backward when available, else composed. */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (fusedReady(x)) return tf.engine().runKernel('MffGelu', { x }) as tf.Tensor;
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/** LayerNorm over the last axis, (x - mean) / sqrt(var_biased + eps) * w + b; w, b: [D]. Native fused when available. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const D = x.shape[x.rank - 1];
  if (fusedReady(x, weight, bias) && weight.rank === 1 && bias.rank === 1 && weight.shape[0] === D && bias.shape[0] === D) {
    return tf.engine().runKernel('MffLayerNorm', { x, weight, bias }, { eps }) as tf.Tensor;
  }
  const { mean, variance } = tf.moments(x, -1, true);
  const xn = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(xn, weight), bias);
}

/**
 * The pre-norm block's residual sum and the LayerNorm that follows it: [s = x + a, layer_norm(s)] (weight, bias [D])
 * in one native pass; its gradient adds s's own gradient to the LayerNorm's in the same pass. Bitwise what tf.add then
 * layerNorm give. Returns null when unavailable; the caller composes.
 */
export function addLayerNorm(x: tf.Tensor, a: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): [tf.Tensor, tf.Tensor] | null {
  const D = x.shape[x.rank - 1];
  if (!fusedReady(x, a, weight, bias) || !tf.util.arraysEqual(x.shape, a.shape) || weight.rank !== 1 || bias.rank !== 1 || weight.shape[0] !== D || bias.shape[0] !== D) return null;
  return tf.engine().runKernel('MffAddLayerNorm', { x, a, weight, bias }, { eps }) as unknown as [tf.Tensor, tf.Tensor];
}

/**
 * Linear layer y = x W (+ b) on x [..., K] (any rank >= 2: the leading dims are the rows), W [K, N], b [N]: one native
 * sgemm forward (the bias added per row block), and backward dx = dy W^T plus (dW = x^T dy, db = column sums of dy)
 * in one pass, with the transpose flags of sgemm (no transposed copies, no reshapes). Returns null when unavailable;
 * the caller composes matMul + add.
 */
export function linearFused(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor | null {
  if (!(bias ? fusedReady(x, weight, bias) : fusedReady(x, weight)) || x.rank < 2 || weight.rank !== 2 || x.shape[x.rank - 1] !== weight.shape[0]) return null;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[1])) return null;
  return bias
    ? (tf.engine().runKernel('MffLinear', { x, weight, bias }) as tf.Tensor)
    : (tf.engine().runKernel('MffLinearNoBias', { x, weight }) as tf.Tensor);
}

/** Gradients are being recorded (a tape is active): the ops then keep what their backward needs. */
const taping = () => (tf.engine() as unknown as { state: { activeTape: unknown } }).state.activeTape != null;

/**
 * The transformer FFN y = gelu(x W1 + b1) W2 + b2 on x [..., K] (rank >= 2), W1 [K, H], b1 [H], W2 [H, N], b2 [N]
 * as one native kernel forward (row blocks: bias and GELU applied while each block's GEMM output is in cache; the
 * pre-activation kept only while gradients are recorded) and one backward (GELU's derivative applied inside the
 * dy W2^T GEMM's row blocks). The same arithmetic as linearFused → gelu → linearFused. Returns null when unavailable;
 * the caller composes.
 */
export function ffnFused(x: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor): tf.Tensor | null {
  if (!fusedReady(x, w1, b1, w2, b2) || x.rank < 2 || w1.rank !== 2 || w2.rank !== 2 || b1.rank !== 1 || b2.rank !== 1) return null;
  const [K, H] = w1.shape;
  if (x.shape[x.rank - 1] !== K || w2.shape[0] !== H || b1.shape[0] !== H || b2.shape[0] !== w2.shape[1]) return null;
  if (!taping()) {
    const [y, g] = tf.engine().runKernel('MffFfn', { x, w1, b1, w2, b2 }, { train: false }) as unknown as tf.Tensor[];
    g.dispose();
    return y;
  }
  const op = tf.customGrad(((xx: tf.Tensor, ww1: tf.Tensor, bb1: tf.Tensor, ww2: tf.Tensor, bb2: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, g, h] = tf.engine().runKernel('MffFfn', { x: xx, w1: ww1, b1: bb1, w2: ww2, b2: bb2 }, { train: true }) as unknown as tf.Tensor[];
    save([xx, ww1, ww2, h, g]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => tf.engine().runKernel('MffFfnGrad', { x: s[0], w1: s[1], w2: s[2], h: s[3], g: s[4], dy }) as unknown as tf.Tensor[],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, w1, b1, w2, b2);
}

/**
 * Multi-head self-attention core on a fused qkv projection: qkv [B, N, 3D] ([q | k | v], heads contiguous in
 * each third) -> softmax(scale q k^T) v merged back to [B, N, D], i.e. what src/nn/layers.ts attention() computes
 * between its qkv and proj Linears; `bias` [H, N, N] (relative position bias) is added to the scaled logits, and
 * gets its gradient (summed over the batch). One native kernel forward (batched GEMMs on strided views, no
 * transposes) and one backward. Returns null when unavailable; the caller composes the ops.
 */
export function attentionCore(qkv: tf.Tensor, numHeads: number, scale: number, bias?: tf.Tensor): tf.Tensor | null {
  if (!fusedReady(qkv) || qkv.rank !== 3 || (qkv.shape[2] as number) % (3 * numHeads) !== 0) return null;
  if (bias) {
    const N = qkv.shape[1] as number;
    if (!fusedReady(bias) || !tf.util.arraysEqual(bias.shape, [numHeads, N, N])) return null;
    const attrs = { numHeads, scale, hasBias: true };
    const opb = tf.customGrad(((x: tf.Tensor, bb: tf.Tensor, save: tf.GradSaveFunc) => {
      const [out, probs] = tf.engine().runKernel('MffAttention', { qkv: x, bias: bb }, attrs) as unknown as tf.Tensor[];
      save([x, probs]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel('MffAttentionGrad', { qkv: saved[0], probs: saved[1], dy }, attrs) as unknown as tf.Tensor[],
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return opb(qkv, bias);
  }
  const attrs = { numHeads, scale };
  const op = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const [out, probs] = tf.engine().runKernel('MffAttention', { qkv: x }, attrs) as unknown as tf.Tensor[];
    save([x, probs]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel('MffAttentionGrad', { qkv: saved[0], probs: saved[1], dy }, attrs) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(qkv);
}

export interface AdamWHyper {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step count (bias correction) */
  step: number;
}

/**
 * One AdamW update as a single native kernel: returns new [param, exp_avg, exp_avg_sq] tensors computed exactly as
 * the engine's optimizer (optim.ts) composes it (same float32 op order: bitwise equal), or null when the fused path is not
 * available (other backend, no addon, non-float32) so the caller composes the ops itself.
 */
export function adamwUpdate(param: tf.Tensor, m: tf.Tensor, v: tf.Tensor, grad: tf.Tensor, h: AdamWHyper): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!fusedReady(param, m, v, grad)) return null;
  if (![m, v, grad].every((t) => tf.util.arraysEqual(t.shape, param.shape))) return null;
  return tf.engine().runKernel('MffAdamW', { param, m, v, grad }, { consts: Array.from(adamwConsts(h)) }) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** The native AdamW constants [decay, 1−β1, β2, 1−β2, sqrt(1−β2^t), eps, lr/(1−β1^t), hasDecay] (float32). */
function adamwConsts(h: AdamWHyper): Float32Array {
  const f = Math.fround;
  return Float32Array.of(
    f(1 - h.lr * h.weightDecay), f(1 - h.beta1), f(h.beta2), f(1 - h.beta2), f(Math.sqrt(1 - h.beta2 ** h.step)), f(h.eps),
    f(h.lr / (1 - h.beta1 ** h.step)), h.weightDecay !== 0 ? 1 : 0,
  );
}

/** One parameter of adamwInPlace: the state as tensors, or as host arrays (the optimizer's stateInHostMemory). */
export interface AdamWItem {
  param: tf.Tensor;
  m: tf.Tensor | Float32Array;
  v: tf.Tensor | Float32Array;
  grad: tf.Tensor;
  h: AdamWHyper;
}

/**
 * AdamW on many parameters in one native call, in place: param (and m, v when tensors) are overwritten in the wasm
 * heap, host-array state in JS memory; the same arithmetic as adamwUpdate (bitwise). An item qualifies when the fused
 * path is available, every size matches and param / m / v tensors own their buffer (refCount 1: no other tensor, e.g.
 * a reshape view, would see the write). Returns which items were updated; the caller updates the others itself.
 */
export function adamwInPlace(items: AdamWItem[]): boolean[] {
  const done = items.map(() => false);
  if (!items.length || !fusedKernelsRegistered() || loadNative() === null || tf.getBackend() !== 'wasm') return done;
  const be = tf.backend() as unknown as WasmBackend;
  const owned = (t: tf.Tensor) => t.dtype === 'float32' && be.dataIdMap.get(t.dataId).refCount === 1;
  const picked: { i: number; n: number }[] = [];
  items.forEach((it, i) => {
    const n = it.param.size;
    const stateOk = [it.m, it.v].every((s) => (s instanceof Float32Array ? s.length === n : owned(s) && tf.util.arraysEqual(s.shape, it.param.shape)));
    if (n > 0 && owned(it.param) && it.grad.dtype === 'float32' && tf.util.arraysEqual(it.grad.shape, it.param.shape) && stateOk) picked.push({ i, n });
  });
  if (!picked.length) return done;
  const consts = new Float32Array(8 * picked.length);
  picked.forEach(({ i }, j) => consts.set(adamwConsts(items[i].h), 8 * j));
  // views into the heap taken after every allocation of this call (none follows): see heap.ts
  const buf = be.wasm.HEAPU8.buffer;
  const view = (t: tf.Tensor | Float32Array, n: number) => (t instanceof Float32Array ? t : new Float32Array(buf, be.dataIdMap.get(t.dataId).memoryOffset, n));
  const arrays = picked.flatMap(({ i, n }) => [view(items[i].param, n), view(items[i].m, n), view(items[i].v, n), view(items[i].grad, n)]);
  loadNative()!.adamwMulti(arrays, consts);
  for (const { i } of picked) done[i] = true;
  return done;
}

/**
 * Train-mode BatchNorm (+ ReLU) over the last axis of x (NHWC: statistics over N, H, W) as one native kernel forward
 * and one backward: y = relu?((x − mean) · w / sqrt(var + eps) + b), with the batch mean and biased variance [C]
 * (for the running statistics). The backward keeps x, w, mean, var (and y with ReLU) — no full-size temporaries.
 * Returns null when unavailable; the caller composes the ops.
 */
export function batchNormTrainFused(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number, relu: boolean): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } | null {
  const C = x.shape[x.rank - 1];
  if (!fusedReady(x, weight, bias) || weight.rank !== 1 || bias.rank !== 1 || weight.shape[0] !== C || bias.shape[0] !== C) return null;
  const attrs = { eps, relu };
  let stats: tf.Tensor[] = [];
  const op = tf.customGrad(((xx: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, variance] = tf.engine().runKernel('MffBatchNormTrain', { x: xx, weight: w, bias: b }, attrs) as unknown as tf.Tensor[];
    stats = [tf.keep(mean), tf.keep(variance)];
    save(relu ? [xx, w, mean, variance, y] : [xx, w, mean, variance]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws, ms, vs, ys] = saved;
        return tf.engine().runKernel('MffBatchNormTrainGrad', { x: xs, weight: ws, y: ys ?? xs, dy, mean: ms, variance: vs }, attrs) as unknown as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = op(x, weight, bias) as tf.Tensor;
  return { y, mean: stats[0], variance: stats[1] };
}

/**
 * The sums of the segmentation cross-entropy over rows of logits z [m, K] with int32 labels y [m]: a float32 [3] =
 * {Σ log softmax(z_i)[y_i], #(argmax z_i = y_i, first maximum), #valid} over the rows whose label is not `ignore`
 * (one native pass, sums in double; src/models/seg/loss.ts composes the same from stock ops). Throws on a label that
 * is neither a class nor `ignore`. Returns null when unavailable. Not differentiable: the loss's custom gradient
 * calls segCrossEntropyGrad.
 */
export function segCrossEntropy(z: tf.Tensor2D, y: tf.Tensor1D, ignore: number): tf.Tensor1D | null {
  if (!fusedReady(z) || y.dtype !== 'int32' || y.shape[0] !== z.shape[0]) return null;
  return tf.engine().runKernel('MffSegCe', { z, y }, { ignore }) as tf.Tensor1D;
}

/**
 * (softmax(z) − onehot(y)) · scale on the rows whose label is not `ignore`, 0 on the others: [m, K]; null when
 * unavailable. A scalar tensor `scale` is read only when the fused kernel runs (no sync on other backends).
 */
export function segCrossEntropyGrad(z: tf.Tensor2D, y: tf.Tensor1D, ignore: number, scale: number | tf.Tensor): tf.Tensor2D | null {
  if (!fusedReady(z) || y.dtype !== 'int32' || y.shape[0] !== z.shape[0]) return null;
  const s = typeof scale === 'number' ? scale : scale.dataSync()[0];
  return tf.engine().runKernel('MffSegCeGrad', { z, y }, { ignore, scale: s }) as tf.Tensor2D;
}
