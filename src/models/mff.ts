/**
 * MFF (Liu et al., ICCV 2023): the whole delta over MAE. The encoder taps the outputs of blocks `outIndices`
 * (0-based, after the block's FFN residual, before any norm). Every tap but the last goes through its own
 * Linear (`backbone.proj_layers.k`); the taps are averaged with softmax(`backbone.proj_weights`) weights,
 * token-wise including the cls token; the final LayerNorm (`backbone.ln1`) is applied once, after the fusion.
 * There is no extra loss term: the weights are only logged. With a single tap this is plain MAE.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../nn/params.js';
import type { Rng } from '../io/rng.js';
import { addLinear, linear } from '../nn/layers.js';

/** `backbone.proj_weights` [T, 1, 1, 1], all ones (untouched by any init): equal weights at step 0. */
export function addFusionWeights(p: ParamStore, outIndices: number[]): void {
  p.add('backbone.proj_weights', tf.ones([outIndices.length, 1, 1, 1]));
}

/** `backbone.proj_layers.{k}`: one D->D Linear per tap except the last (Xavier-uniform, bias 0). */
export function addFusionProjections(p: ParamStore, rng: Rng, outIndices: number[], dims: number): void {
  for (let k = 0; k < outIndices.length - 1; k++) addLinear(p, rng, `backbone.proj_layers.${k}`, dims, dims);
}

/** softmax over the T fusion logits: [T]. */
export function fusionWeights(p: ParamStore): tf.Tensor1D {
  const w = p.get('backbone.proj_weights');
  return tf.softmax(tf.reshape(w, [w.shape[0]])) as tf.Tensor1D;
}

/** taps: T tensors [B, N, D] in outIndices order -> Σ_k w_k · proj_k(tap_k)  (last tap unprojected): [B, N, D]. */
export function fuseTaps(p: ParamStore, taps: tf.Tensor[]): tf.Tensor {
  const w = fusionWeights(p);
  const projected = taps.map((t, k) => (k < taps.length - 1 ? linear(p, `backbone.proj_layers.${k}`, t) : t));
  // [T, B, N, D] * [T, 1, 1, 1] summed over T -> [B, N, D]
  return tf.sum(tf.mul(tf.stack(projected), tf.reshape(w, [taps.length, 1, 1, 1])), 0);
}
