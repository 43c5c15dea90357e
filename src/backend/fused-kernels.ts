/**
 * The fused kernels of our own on the wasm backend (all native, registered only with the addon): MffGelu /
 * MffGeluGrad, MffLayerNorm / MffLayerNormGrad, MffAddLayerNorm / MffAddLayerNormGrad, MffAdamW, MffAttention /
 * MffAttentionGrad, MffLinear / MffLinearNoBias / MffLinearGradX / MffLinearGradW, MffFfn / MffFfnGrad,
 * MffBatchNormTrain / MffBatchNormTrainGrad, MffSegCe / MffSegCeGrad, and the gradients of MffGelu, MffLayerNorm,
 * MffAddLayerNorm and the two Linear kernels (the attention, FFN and BatchNorm gradients are customGrads in
 * fused.ts). Model code does not run these by name: it calls the ops of src/backend/fused.ts. Registered by
 * src/backend/registry.ts. */
import * as tf from '@tensorflow/tfjs';
import { f32, off, size, type Gradient, type Kernel } from './heap.js';
import type { NativeAddon } from './native.js';

/** MffGelu: y = 0.5 x (1 + erf(x / sqrt 2)). */
export const geluKernel = (nat: NativeAddon): Kernel => ({ inputs: { x }, backend: be }) => {
  const out = be.makeOutput([...x.shape], 'float32');
  nat.gelu(f32(be), 0, off(be, x), 0, off(be, out), size(x.shape));
  return out;
};

/** MffGeluGrad: dx = dy gelu'(x). */
export const geluGradKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, dy }, backend: be }) => {
  const out = be.makeOutput([...x.shape], 'float32');
  nat.gelu(f32(be), 1, off(be, x), off(be, dy), off(be, out), size(x.shape));
  return out;
};

/** MffLayerNorm over the last axis (attr eps); weight, bias [D]. */
export const layerNormKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, weight, bias }, backend: be, attrs }) => {
  const D = x.shape[x.shape.length - 1];
  const out = be.makeOutput([...x.shape], 'float32');
  if (D > 0) nat.layerNorm(f32(be), off(be, x), off(be, weight), off(be, bias), off(be, out), size(x.shape) / D, D, attrs.eps as number);
  return out;
};

/** MffLayerNormGrad: [dx, dweight, dbias] in one pass. */
export const layerNormGradKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, weight, dy }, backend: be, attrs }) => {
  const D = x.shape[x.shape.length - 1];
  const dx = be.makeOutput([...x.shape], 'float32');
  const dw = be.makeOutput([D], 'float32');
  const db = be.makeOutput([D], 'float32');
  if (D > 0) nat.layerNormGrad(f32(be), off(be, x), off(be, weight), off(be, dy), off(be, dx), off(be, dw), off(be, db), size(x.shape) / D, D, attrs.eps as number);
  return [dx, dw, db];
};

/** MffAddLayerNorm: [s = x + a, layer_norm(s)] over the last axis in one pass (attr eps); weight, bias [D]. */
export const addLayerNormKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, a, weight, bias }, backend: be, attrs }) => {
  const D = x.shape[x.shape.length - 1];
  const s = be.makeOutput([...x.shape], 'float32');
  const y = be.makeOutput([...x.shape], 'float32');
  if (D > 0) nat.layerNorm(f32(be), off(be, x), off(be, weight), off(be, bias), off(be, y), size(x.shape) / D, D, attrs.eps as number, off(be, a), off(be, s));
  return [s, y];
};

/** MffAddLayerNormGrad: [dx (= da), dweight, dbias]: the LayerNorm gradient of dy at s, plus ds (s's other consumers). */
export const addLayerNormGradKernel = (nat: NativeAddon): Kernel => ({ inputs: { s, weight, dy, ds }, backend: be, attrs }) => {
  const D = s.shape[s.shape.length - 1];
  const dx = be.makeOutput([...s.shape], 'float32');
  const dw = be.makeOutput([D], 'float32');
  const db = be.makeOutput([D], 'float32');
  if (D > 0) nat.layerNormGrad(f32(be), off(be, s), off(be, weight), off(be, dy), off(be, dx), off(be, dw), off(be, db), size(s.shape) / D, D, attrs.eps as number, off(be, ds));
  return [dx, dw, db];
};

/**
 * MffBatchNormTrain: [y, mean, var] of train-mode BatchNorm over the last axis of x (NHWC: statistics over N, H, W),
 * y = (x − mean) · w / sqrt(var + eps) + b, then ReLU when attr relu; var biased. Attrs eps, relu.
 */
export const batchNormTrainKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, weight, bias }, backend: be, attrs }) => {
  const C = x.shape[x.shape.length - 1];
  const y = be.makeOutput([...x.shape], 'float32');
  const mean = be.makeOutput([C], 'float32');
  const variance = be.makeOutput([C], 'float32');
  const n = C > 0 ? size(x.shape) / C : 0;
  const offs = Int32Array.of(off(be, x), off(be, weight), off(be, bias), off(be, y), off(be, mean), off(be, variance));
  if (n > 0) nat.batchNormTrain(f32(be), 0, offs, Int32Array.of(n, C, attrs.relu ? 1 : 0), attrs.eps as number);
  return [y, mean, variance];
};

/** MffBatchNormTrainGrad: [dx, dweight, dbias] from x, weight, the forward's mean / var, dy and (with relu) its y. */
export const batchNormTrainGradKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, weight, y, dy, mean, variance }, backend: be, attrs }) => {
  const C = x.shape[x.shape.length - 1];
  const dx = be.makeOutput([...x.shape], 'float32');
  const dw = be.makeOutput([C], 'float32');
  const db = be.makeOutput([C], 'float32');
  const n = C > 0 ? size(x.shape) / C : 0;
  const relu = attrs.relu ? 1 : 0;
  const offs = Int32Array.of(off(be, x), off(be, weight), relu ? off(be, y) : -1, off(be, dy), off(be, mean), off(be, variance), off(be, dx), off(be, dw), off(be, db));
  if (n > 0) nat.batchNormTrain(f32(be), 1, offs, Int32Array.of(n, C, relu), attrs.eps as number);
  return [dx, dw, db];
};

/** MffSegCe: [3] = {Σ log softmax(z)[y], Σ argmax hits, #valid} over rows of z [m, K] with int32 labels y [m] (attr ignore). */
export const segCeKernel = (nat: NativeAddon): Kernel => ({ inputs: { z, y }, backend: be, attrs }) => {
  const [m, K] = z.shape;
  const out = be.makeOutput([3], 'float32');
  nat.segCe(f32(be), 0, Int32Array.of(off(be, z), off(be, y), off(be, out)), Int32Array.of(m, K, attrs.ignore as number), 1);
  return out;
};

/** MffSegCeGrad: [m, K] = (softmax(z) − onehot(y)) · attr scale on valid rows, 0 on ignored ones (attr ignore). */
export const segCeGradKernel = (nat: NativeAddon): Kernel => ({ inputs: { z, y }, backend: be, attrs }) => {
  const [m, K] = z.shape;
  const out = be.makeOutput([m, K], 'float32');
  nat.segCe(f32(be), 1, Int32Array.of(off(be, z), off(be, y), off(be, out)), Int32Array.of(m, K, attrs.ignore as number), attrs.scale as number);
  return out;
};

/** MffAdamW: [param, exp_avg, exp_avg_sq] after one step (attr consts: see fused.ts adamwUpdate). */
export const adamwKernel = (nat: NativeAddon): Kernel => ({ inputs: { param, m, v, grad }, backend: be, attrs }) => {
  const n = size(param.shape);
  const outs = [0, 1, 2].map(() => be.makeOutput([...param.shape], 'float32'));
  const offs = Int32Array.of(off(be, param), off(be, m), off(be, v), off(be, grad), ...outs.map((o) => off(be, o)), n);
  if (n > 0) nat.adamw(f32(be), offs, Float32Array.from(attrs.consts as number[]));
  return outs;
};
/**
 * MffAttention: [out, probs] of softmax(scale q k^T) v on a fused qkv [B, N, 3D]; optional input `bias` [H, N, N]:
 * added to the scaled logits; the gradient then also returns d bias.
 */
export const attentionKernel = (nat: NativeAddon): Kernel => ({ inputs: { qkv, bias }, backend: be, attrs }) => {
  const [B, N, D3] = qkv.shape;
  const H = attrs.numHeads as number;
  const out = be.makeOutput([B, N, D3 / 3], 'float32');
  const probs = be.makeOutput([B, H, N, N], 'float32');
  const offs = [off(be, qkv), off(be, out), off(be, probs), ...(bias ? [off(be, bias)] : [])];
  nat.attention(f32(be), 0, Int32Array.from(offs), Int32Array.of(B, N, H, D3 / 3 / H, bias ? 1 : 0), attrs.scale as number);
  return [out, probs];
};

/** MffAttentionGrad: dqkv (and dbias when attr hasBias). */
export const attentionGradKernel = (nat: NativeAddon): Kernel => ({ inputs: { qkv, probs, dy }, backend: be, attrs }) => {
  const [B, N, D3] = qkv.shape;
  const H = attrs.numHeads as number;
  const hasBias = Boolean(attrs.hasBias);
  const dqkv = be.makeOutput([B, N, D3], 'float32');
  const dbias = hasBias ? be.makeOutput([H, N, N], 'float32') : null;
  const offs = [off(be, qkv), off(be, probs), off(be, dy), off(be, dqkv), ...(dbias ? [off(be, dbias)] : [])];
  nat.attention(f32(be), 1, Int32Array.from(offs), Int32Array.of(B, N, H, D3 / 3 / H, hasBias ? 1 : 0), attrs.scale as number);
  return dbias ? [dqkv, dbias] : dqkv;
};

/** Rows M and the leading shape of a [..., K] operand (the Linear kernels take any rank >= 2: rows = leading dims). */
const rows = (t: tf.TensorInfo) => {
  const K = t.shape[t.shape.length - 1];
  return { M: K > 0 ? size(t.shape) / K : 0, K, lead: t.shape.slice(0, -1) };
};

/** MffLinear: y = x W + b on x [..., K] (M rows), W [K, N], b [N]: y [..., N]. */
export const linearKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, weight, bias }, backend: be }) => {
  const { M, K, lead } = rows(x);
  const N = weight.shape[1];
  const y = be.makeOutput([...lead, N], 'float32');
  const ob = bias ? off(be, bias) : 0;
  nat.linear(f32(be), 0, Int32Array.of(off(be, x), off(be, weight), ob, off(be, y)), Int32Array.of(M, K, N, bias ? 1 : 0));
  return y;
};

/** MffLinearGradX: dx = dy W^T (dy [..., N] -> dx [..., K]). */
export const linearGradXKernel = (nat: NativeAddon): Kernel => ({ inputs: { dy, weight }, backend: be }) => {
  const { M, K: N, lead } = rows(dy);
  const K = weight.shape[0];
  const dx = be.makeOutput([...lead, K], 'float32');
  nat.linear(f32(be), 1, Int32Array.of(off(be, dy), off(be, weight), off(be, dx)), Int32Array.of(M, K, N, 0));
  return dx;
};

/** MffLinearGradW: [dW = x^T dy, db = column sums of dy (when attr hasBias)]. */
export const linearGradWKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, dy }, backend: be, attrs }) => {
  const { M, K } = rows(x);
  const N = dy.shape[dy.shape.length - 1];
  const hasBias = Boolean(attrs.hasBias);
  const dw = be.makeOutput([K, N], 'float32');
  const db = hasBias ? be.makeOutput([N], 'float32') : null;
  nat.linear(f32(be), 2, Int32Array.of(off(be, x), off(be, dy), off(be, dw), db ? off(be, db) : 0), Int32Array.of(M, K, N, hasBias ? 1 : 0));
  return db ? [dw, db] : [dw];
};

/** MffLinearNoBias: y = x W. */
export const linearNoBiasKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, weight }, backend: be }) => {
  const { M, K, lead } = rows(x);
  const N = weight.shape[1];
  const y = be.makeOutput([...lead, N], 'float32');
  nat.linear(f32(be), 0, Int32Array.of(off(be, x), off(be, weight), 0, off(be, y)), Int32Array.of(M, K, N, 0));
  return y;
};

/**
 * MffFfn: the transformer FFN y = gelu(x W1 + b1) W2 + b2 on x [..., K] (M rows), W1 [K, H], W2 [H, N] in one native
 * call (row blocks, bias and GELU applied in cache). Outputs [y [..., N], g = gelu(h) [M, H]], plus h = x W1 + b1
 * [M, H] when attr train (the gradient needs it).
 */
export const ffnKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, w1, b1, w2, b2 }, backend: be, attrs }) => {
  const { M, K, lead } = rows(x);
  const [H, N] = w2.shape;
  const y = be.makeOutput([...lead, N], 'float32');
  const g = be.makeOutput([M, H], 'float32');
  const h = attrs.train ? be.makeOutput([M, H], 'float32') : null;
  nat.ffn(f32(be), 0, Int32Array.of(off(be, x), off(be, w1), off(be, b1), off(be, w2), off(be, b2), h ? off(be, h) : -1, off(be, g), off(be, y)), Int32Array.of(M, K, H, N));
  return h ? [y, g, h] : [y, g];
};

/** MffFfnGrad: [dx, dW1, db1, dW2, db2] of MffFfn from x, W1, W2, its h and g, and dy. */
export const ffnGradKernel = (nat: NativeAddon): Kernel => ({ inputs: { x, w1, w2, h, g, dy }, backend: be }) => {
  const { M, K } = rows(x);
  const [H, N] = w2.shape;
  const outs = [be.makeOutput([...x.shape], 'float32'), be.makeOutput([K, H], 'float32'), be.makeOutput([H], 'float32'), be.makeOutput([H, N], 'float32'), be.makeOutput([N], 'float32')];
  const dh = be.makeOutput([M, H], 'float32'); // scratch
  const offs = Int32Array.of(...[x, w1, w2, h, g, dy, ...outs, dh].map((t) => off(be, t)));
  nat.ffn(f32(be), 1, offs, Int32Array.of(M, K, H, N));
  be.disposeData(dh.dataId);
  return outs;
};

/** The gradient of MffLinear (hasBias) and MffLinearNoBias. */
export function linearGradient(hasBias: boolean): Gradient {
  return {
    inputsToSave: ['x', 'weight'],
    gradFunc: (dy, saved) => {
      // dW and db from one native pass, computed here (the tape runs each thunk in its own tidy); dx lazily.
      const [x, w] = saved;
      const g = tf.engine().runKernel('MffLinearGradW', { x, dy: dy as tf.Tensor }, { hasBias }) as unknown as tf.Tensor[];
      const dx = () => tf.engine().runKernel('MffLinearGradX', { dy: dy as tf.Tensor, weight: w }) as tf.Tensor;
      const grads: Record<string, () => tf.Tensor> = { x: dx, weight: () => g[0] };
      if (hasBias) grads.bias = () => g[1];
      return grads;
    },
  };
}

/** The gradient of MffGelu. */
export const geluGradient: Gradient = {
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel('MffGeluGrad', { x: saved[0], dy: dy as tf.Tensor }) as tf.Tensor }),
};

/** The gradient of MffAddLayerNorm: x and a both get ds + the LayerNorm gradient (one buffer; a gets its own tensor
 * object, a clone, since the tape disposes a gradient object when it accumulates into it). */
export const addLayerNormGradient: Gradient = {
  inputsToSave: ['weight'],
  outputsToSave: [true, false],
  gradFunc: (dys, saved, attrs) => {
    const [ds, dy] = dys as tf.Tensor[];
    // all four made here, not in the thunks: the tape runs each thunk in its own tidy and may dispose x's gradient
    // (accumulating it) before a's thunk runs
    const g = tf.engine().runKernel('MffAddLayerNormGrad', { s: saved[1], weight: saved[0], dy, ds }, attrs) as tf.Tensor[];
    const ga = tf.clone(g[0]);
    return { x: () => g[0], a: () => ga, weight: () => g[1], bias: () => g[2] };
  },
};

/** The gradient of MffLayerNorm. */
export const layerNormGradient: Gradient = {
  inputsToSave: ['x', 'weight'],
  gradFunc: (dy, saved, attrs) => {
    // One native pass gives all three, computed here rather than in the thunks: the tape runs each thunk in
    // its own tidy. The gradient tidy around this call disposes the ones nobody asks for.
    const g = tf.engine().runKernel('MffLayerNormGrad', { x: saved[0], weight: saved[1], dy: dy as tf.Tensor }, attrs) as tf.Tensor[];
    const get = (i: number) => g[i];
    return { x: () => get(0), weight: () => get(1), bias: () => get(2) };
  },
};
