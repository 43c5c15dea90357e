/**
 * The fused segmentation cross-entropy (src/backend/fused.ts segCrossEntropy / segCrossEntropyGrad, native
 * mff_seg_ce): the three sums and the logits gradient against a float64 reference, ignored rows, ties (first
 * maximum wins, as argmax), a label out of range, and the same bits on 1 and 2 threads. The loss that uses it is
 * checked against mmseg by the golden tests; here the kernel alone.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { segCrossEntropy, segCrossEntropyGrad } from '../../src/backend/fused.js';
import { loadNative, nativeAvailable } from '../../src/backend/native.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

/** A deterministic case: m rows of K logits (some rows with tied maxima), labels with ~1/7 ignored. */
function makeCase(m: number, K: number, ignore: number) {
  const z = Float32Array.from({ length: m * K }, (_, i) => 4 * Math.sin(i * 0.731) + (i % 5 === 0 ? 2 : 0));
  for (let i = 0; i < m; i += 9) z[i * K + 1] = z[i * K]; // ties between classes 0 and 1 on every 9th row
  const y = Int32Array.from({ length: m }, (_, i) => (i % 7 === 3 ? ignore : (i * 5) % K));
  return { z, y };
}

/** float64 reference: sums {Σ log p[y], hits, valid} and the gradient (softmax − onehot)·scale (0 on ignored rows). */
function reference(z: Float32Array, y: Int32Array, K: number, ignore: number, scale: number) {
  const m = y.length;
  let nll = 0, hits = 0, valid = 0;
  const g = new Float64Array(m * K);
  for (let i = 0; i < m; i++) {
    if (y[i] === ignore) continue;
    const row = Array.from(z.subarray(i * K, (i + 1) * K));
    const mx = Math.max(...row);
    const am = row.indexOf(mx);
    const s = row.reduce((a, v) => a + Math.exp(v - mx), 0);
    nll += row[y[i]] - mx - Math.log(s);
    hits += am === y[i] ? 1 : 0;
    valid++;
    for (let k = 0; k < K; k++) g[i * K + k] = (Math.exp(row[k] - mx) / s - (k === y[i] ? 1 : 0)) * scale;
  }
  return { sums: [nll, hits, valid], g };
}

describe.skipIf(!nativeAvailable())('native segmentation cross-entropy', () => {
  for (const [m, K] of [[1000, 6], [333, 150], [1, 3]] as const) {
    test(`sums and gradient vs float64: ${m} rows x ${K} classes, ignored rows, tied maxima`, () => {
      const ignore = 255;
      const scale = 0.4 / m;
      const { z, y } = makeCase(m, K, ignore);
      const ref = reference(z, y, K, ignore, scale);
      const [sums, g] = tf.tidy(() => {
        const zt = tf.tensor2d(z, [m, K]);
        const yt = tf.tensor1d(y, 'int32');
        return [segCrossEntropy(zt, yt, ignore)!.dataSync(), segCrossEntropyGrad(zt, yt, ignore, scale)!.dataSync()];
      });
      expect(Math.abs(sums[0] - ref.sums[0])).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref.sums[0])));
      expect(sums[1]).toBe(ref.sums[1]);
      expect(sums[2]).toBe(ref.sums[2]);
      let worst = 0;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - ref.g[i]));
      expect(worst, `worst |g - ref| ${worst}`).toBeLessThan(1e-6 * scale);
      for (let i = 0; i < m; i++) if (y[i] === ignore) for (let k = 0; k < K; k++) expect(g[i * K + k]).toBe(0);
    });
  }

  test('a label that is neither a class nor the ignore index fails loudly with its index and value', () => {
    const { z, y } = makeCase(20, 6, 255);
    y[13] = 6;
    const zt = tf.tensor2d(z, [20, 6]);
    const yt = tf.tensor1d(y, 'int32');
    expect(() => segCrossEntropy(zt, yt, 255)).toThrow(/label 6 at flat index 13 is not a class in \[0, 6\)/);
    expect(() => segCrossEntropyGrad(zt, yt, 255, 1)).toThrow(/flat index 13/);
    tf.dispose([zt, yt]);
  });

  test('the same bits with 1 and 2 threads (two fixed row halves)', () => {
    const nat = loadNative()!;
    const before = nat.threads();
    const { z, y } = makeCase(5001, 11, 255);
    const run = (t: number) => {
      nat.threads(t);
      return tf.tidy(() => {
        const zt = tf.tensor2d(z, [5001, 11]);
        const yt = tf.tensor1d(y, 'int32');
        return [Array.from(segCrossEntropy(zt, yt, 255)!.dataSync()), Array.from(segCrossEntropyGrad(zt, yt, 255, 1e-3)!.dataSync())];
      });
    };
    try {
      expect(run(2)).toEqual(run(1));
    } finally {
      nat.threads(before);
    }
  });

  test('no tensors left behind', () => {
    const before = tf.memory().numTensors;
    const { z, y } = makeCase(50, 4, 255);
    tf.tidy(() => {
      const zt = tf.tensor2d(z, [50, 4]);
      const yt = tf.tensor1d(y, 'int32');
      segCrossEntropy(zt, yt, 255);
      segCrossEntropyGrad(zt, yt, 255, 1);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
