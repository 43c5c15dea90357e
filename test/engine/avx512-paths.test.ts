/**
 * The native engine's hand-vectorised AVX-512 kernels (native/src/avx512.c: the attention items of at most 128 tokens
 * and head width, LayerNorm and its gradient) against the plain C / sgemm paths that MFF_AVX512=0 keeps. First
 * checked that the AVX-512 paths are really taken on a CPU with AVX-512 (other bits than with MFF_AVX512=0, the same
 * values within rounding), then the attention and LayerNorm tests of kernels.test.ts (float64 references, 1-vs-2-thread
 * bits) are rerun with MFF_AVX512=0 in a child vitest, so both paths stay checked. Skipped without the addon and
 * inside the child.
 */
import { test } from 'vitest';
import { readFileSync } from 'node:fs';
import { nativeAvailable } from '../../src/backend/native.js';
import { expectChildVitestPasses, expectOtherBitsSameValues, numbersFromChildScript } from '../helpers/child-vitest.js';

const skip = !nativeAvailable() || process.env.MFF_AVX512 !== undefined || process.env.MFF_NATIVE === '0';

function cpuHasAvx512(): boolean {
  try {
    return /^flags\s*:.*\bavx512f\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/** attention forward, qkv gradient and bias gradient for the decoder's items [2, 65, 2, 32] and the encoder's
 * [3, 17, 3, 64] (with a bias), then LayerNorm and its three gradients on [37, 192] and [9, 5, 21], in a fresh
 * process with env */
function kernelsInChild(env: Record<string, string>): number[] {
  const script = `
    import * as tf from '@tensorflow/tfjs';
    import { initBackend } from './src/backend/init.ts';
    import { attentionCore, layerNorm } from './src/backend/fused.ts';
    await initBackend('wasm', { quiet: true });
    const v = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s));
    const out = [];
    for (const [B, N, H, hd] of [[2, 65, 2, 32], [3, 17, 3, 64]]) {
      const D = H * hd;
      const x = tf.tensor3d(v(B * N * 3 * D, 0.37), [B, N, 3 * D]);
      const bias = tf.tensor3d(v(H * N * N, 0.11), [H, N, N]);
      const up = tf.tensor3d(v(B * N * D, 0.13), [B, N, D]);
      const [gx, gb] = tf.grads((a, b) => tf.sum(tf.mul(attentionCore(a, H, hd ** -0.5, b), up)))([x, bias]);
      out.push(...attentionCore(x, H, hd ** -0.5, bias).dataSync(), ...gx.dataSync(), ...gb.dataSync());
    }
    for (const shape of [[37, 192], [9, 5, 21]]) {
      const D = shape[shape.length - 1], n = shape.reduce((a, b) => a * b);
      const [x, w, b, up] = [tf.tensor(v(n, 0.37), shape), tf.tensor(v(D, 0.7)), tf.tensor(v(D, 0.3)), tf.tensor(v(n, 0.13), shape)];
      const gs = tf.grads((p, q, r) => tf.sum(tf.mul(layerNorm(p, q, r, 1e-6), up)))([x, w, b]);
      out.push(...layerNorm(x, w, b, 1e-6).dataSync(), ...gs.flatMap((g) => [...g.dataSync()]));
    }
    process.stdout.write(JSON.stringify(out));`;
  return numbersFromChildScript(script, env);
}

test.skipIf(skip || !cpuHasAvx512())('attention items and LayerNorm take the AVX-512 kernels: other bits than the plain path, same values within rounding', () => {
  expectOtherBitsSameValues(kernelsInChild({}), kernelsInChild({ MFF_AVX512: '0' }), 1e-5);
}, 120_000);

test.skipIf(skip)('the attention and LayerNorm kernel tests pass with MFF_AVX512=0 (sgemm and plain loops)', () => {
  expectChildVitestPasses(['test/engine/kernels.test.ts'], { MFF_AVX512: '0' }, 200_000, 'attention|ayerNorm|bitwise equal');
}, 220_000);
