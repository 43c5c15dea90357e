/**
 * mmpretrain VisionTransformer pieces shared by pretraining and classification. NHWC images in, [B, N, D] tokens.
 * The patch embedding is a stride=kernel Conv2d, computed as patchify + matmul with the conv filter viewed as
 * [p*p*C, D] (its internal layout [p, p, C, D] flattens in the same (row, col, channel) order as patchify).
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../nn/params.js';
import type { Rng } from '../io/rng.js';
import { uniform, xavierBound } from '../nn/init.js';

/** imgs [B, H, W, C] -> patches [B, (H/p)*(W/p), p*p*C], patch order row-major, inside (row, col, channel). */
export function patchify(imgs: tf.Tensor, p: number): tf.Tensor3D {
  const [B, H, W, C] = imgs.shape;
  if (H % p !== 0 || W % p !== 0) throw new Error(`image ${H}x${W} is not divisible by patch size ${p}`);
  const gh = H / p;
  const gw = W / p;
  // [B, H, W, C] -> [B, gh, p, gw, p, C] -> [B, gh, gw, p, p, C] -> [B, gh*gw, p*p*C]
  const x = tf.transpose(tf.reshape(imgs, [B, gh, p, gw, p, C]), [0, 1, 3, 2, 4, 5]);
  return tf.reshape(x, [B, gh * gw, p * p * C]);
}

/** backbone.patch_embed.projection: imgs [B, H, W, C] -> tokens [B, L, D]. */
export function patchEmbed(p: ParamStore, prefix: string, imgs: tf.Tensor, patch: number): tf.Tensor3D {
  const w = p.get(`${prefix}.patch_embed.projection.weight`); // [p, p, C, D]
  const [, , C, D] = w.shape;
  const patches = patchify(imgs, patch); // [B, L, p*p*C]
  const [B, L, K] = patches.shape;
  // [B*L, K] x [K, D] -> [B, L, D]
  const y = tf.add(tf.matMul(tf.reshape(patches, [B * L, K]), tf.reshape(w, [patch * patch * C, D])), p.get(`${prefix}.patch_embed.projection.bias`));
  return tf.reshape(y, [B, L, D]);
}

/**
 * Patch-embed conv params as MAEViT.init_weights leaves them: xavier_uniform on w.view(D, -1)
 * (fan_in = fan_out... = C*p*p and D), bias keeps the PyTorch Conv2d default U(±1/sqrt(C*p*p)).
 */
export function addPatchEmbed(p: ParamStore, rng: Rng, prefix: string, inChannels: number, patch: number, dims: number): void {
  const k = inChannels * patch * patch;
  p.add(`${prefix}.patch_embed.projection.weight`, uniform(rng, [patch, patch, inChannels, dims], xavierBound(k, dims)), 'conv');
  p.add(`${prefix}.patch_embed.projection.bias`, uniform(rng, [dims], 1 / Math.sqrt(k)));
}

/**
 * Broadcast a [1, 1, D] token to `shape` by adding it to zeros: the gradient is one sum reduction
 * (tf.tile / tf.broadcastTo run the Tile kernel, whose gradient is one slice + add per repetition).
 */
export function expandTokens(token: tf.Tensor, shape: [number, number, number]): tf.Tensor {
  return tf.add(tf.zeros(shape), token);
}
