/**
 * The JS filter gradient of the pure wasm engine (src/backend/wasm-kernels.ts) computed over bands of output rows
 * (issue 14: bounded temporaries at 512²): equal to tfjs's conv2d filter gradient on the running engine for every
 * band size down to one row, with stride and padding (tfjs has no dilated filter gradient to compare with); no leaked tensors.
 */
import { beforeAll, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { conv2dFilterGradBanded } from '../../src/backend/wasm-kernels.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

test('banded filter gradient = tf.conv2d filter gradient (stride, padding; 1 row to all rows per band)', () => {
  const x = tf.randomNormal([2, 11, 9, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const cases: Array<[number, number, number, number]> = [[3, 1, 1, 1], [3, 2, 1, 1], [3, 1, 2, 1], [3, 2, 0, 1], [1, 1, 0, 1], [5, 1, 4, 1]];
  for (const [k, s, pad, d] of cases) {
    const w = tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const y = tf.conv2d(x, w, s, pad, 'NHWC', d);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3) as tf.Tensor4D;
    const ref = tf.grad((ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, s, pad, 'NHWC', d), dy)))(w);
    const info = tf.backend_util.computeConv2DInfo(x.shape, w.shape, s, d, pad, undefined, false, 'channelsLast');
    const rowBytes = 4 * x.shape[0] * y.shape[2] * 4;
    for (const rows of [1, 2, 3, y.shape[1]]) {
      const before = tf.memory().numTensors;
      const g = conv2dFilterGradBanded(x, dy, info, rows * rowBytes);
      expect(tf.memory().numTensors).toBe(before + 1);
      const r = ref.dataSync();
      const v = g.dataSync();
      let err = 0;
      let scale = 0;
      for (let i = 0; i < r.length; i++) {
        err = Math.max(err, Math.abs(v[i] - r[i]));
        scale = Math.max(scale, Math.abs(r[i]));
      }
      expect(err / scale, `k${k} s${s} p${pad} d${d} rows ${rows}`).toBeLessThan(1e-5);
      g.dispose();
    }
    tf.dispose([w, y, dy, ref]);
  }
  x.dispose();
});
