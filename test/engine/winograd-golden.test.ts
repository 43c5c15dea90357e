/**
 * The native engine's Winograd convolutions (native/src/kernels.c, wg_wanted) only take convolutions with >= 64
 * channels and >= 2048 output pixels, which the golden fixtures are too small to reach. Here MFF_WINOGRAD=all sends
 * every 3x3 stride-1 convolution through it: first checked to change the bits of small convolutions and their
 * gradients (so the path is really taken; one of them a single tile) while staying within float rounding of the
 * direct ones, then the mmseg golden UperNet and the 512²
 * mmseg parity test are rerun in a child vitest with it. Skipped without the addon and inside the child.
 */
import { test } from 'vitest';
import { join } from 'node:path';
import { nativeAvailable } from '../../src/backend/native.js';
import { expectChildVitestPasses, expectOtherBitsSameValues, numbersFromChildScript } from '../helpers/child-vitest.js';

const skip = !nativeAvailable() || process.env.MFF_WINOGRAD !== undefined || process.env.MFF_NATIVE === '0';

/**
 * 'same' 3x3 convolutions [2, 13, 11, 24] x [3, 3, 24, 40], then [1, 3, 4, 8] x [3, 3, 8, 5] (a single 4x4 tile),
 * each with its input and filter gradients, in a fresh process with env (the second runs on the first's scratch).
 */
function convInChild(env: Record<string, string>): number[] {
  const script = `
    import * as tf from '@tensorflow/tfjs';
    import { initBackend } from './src/backend/init.ts';
    await initBackend('wasm', { quiet: true });
    const v = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s));
    const out = [];
    for (const [xs, co] of [[[2, 13, 11, 24], 40], [[1, 3, 4, 8], 5]]) {
      const ys = [...xs.slice(0, 3), co];
      const x = tf.tensor4d(v(xs.reduce((a, b) => a * b), 0.37), xs);
      const w = tf.tensor4d(v(9 * xs[3] * co, 0.71), [3, 3, xs[3], co]);
      const up = tf.tensor4d(v(ys.reduce((a, b) => a * b), 0.13), ys);
      const [gx, gw] = tf.grads((a, b) => tf.sum(tf.mul(tf.conv2d(a, b, 1, 'same'), up)))([x, w]);
      out.push(...tf.conv2d(x, w, 1, 'same').dataSync(), ...gx.dataSync(), ...gw.dataSync());
    }
    process.stdout.write(JSON.stringify(out));`;
  return numbersFromChildScript(script, env);
}

test.skipIf(skip)('MFF_WINOGRAD=all takes small convolutions: other bits than the direct path, same values within rounding', () => {
  expectOtherBitsSameValues(convInChild({ MFF_WINOGRAD: 'all' }), convInChild({ MFF_WINOGRAD: '0' }), 1e-4);
}, 120_000);

test.skipIf(skip)('golden mmseg UperNet and 512² mmseg parity pass with every 3x3 convolution through Winograd', () => {
  expectChildVitestPasses([join('test', 'golden', 'seg-upernet.test.ts'), join('test', 'seg', 'scale-512.test.ts')], { MFF_WINOGRAD: 'all' }, 280_000);
}, 300_000);
