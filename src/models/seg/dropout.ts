/** nn.Dropout2d for NHWC maps: zero whole channels per sample with probability p, scale the rest by 1/(1-p). */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../io/rng.js';

/** Identity when p is 0 or rng is null (eval, or the deterministic golden train step). */
export function dropout2d(x: tf.Tensor4D, p: number, rng: Rng | null): tf.Tensor4D {
  if (rng === null || p <= 0) return x;
  if (p >= 1) return tf.zerosLike(x);
  const [B, , , C] = x.shape;
  const m = new Float32Array(B * C);
  for (let i = 0; i < m.length; i++) m[i] = rng.random() < p ? 0 : 1 / (1 - p);
  // mask [B, 1, 1, C] broadcasts over H, W
  return tf.mul(x, tf.tensor4d(m, [B, 1, 1, C]));
}
