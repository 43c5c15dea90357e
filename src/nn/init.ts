/** Parameter initialisers (mmengine / PyTorch semantics), drawing from a seeded Rng. */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../io/rng.js';

export function uniform(rng: Rng, shape: number[], bound: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.uniform(-bound, bound);
  return tf.tensor(d, shape);
}

export function normal(rng: Rng, shape: number[], std: number, mean = 0): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = mean + std * rng.normal();
  return tf.tensor(d, shape);
}

/** Truncated normal on [mean-2std, mean+2std] by rejection (timm/mmengine trunc_normal_ with a=-2std, b=2std). */
export function truncNormal(rng: Rng, shape: number[], std: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = rng.normal();
    while (v < -2 || v > 2) v = rng.normal();
    d[i] = v * std;
  }
  return tf.tensor(d, shape);
}

/** Xavier-uniform bound, gain 1: sqrt(6 / (fan_in + fan_out)). */
export function xavierBound(fanIn: number, fanOut: number): number {
  return Math.sqrt(6 / (fanIn + fanOut));
}
