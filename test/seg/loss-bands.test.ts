/**
 * segLoss walks bands of output rows (issue 14: the upsampled [B, H, W, K] logits are never held whole). Its loss,
 * accuracy and gradient must equal the direct formula — resize the whole map, log-softmax, pick the label — computed
 * here with stock tfjs ops and tfjs's own gradient, for one band, many bands and an uneven last band, with and
 * without upsampling and with ignored pixels. Peak memory of the banded op is measured against the whole map.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { segLoss } from '../../src/models/seg/loss.js';
import { Rng } from '../../src/io/rng.js';
import { resizeBilinear } from '../../src/nn/resize.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

/** The unbanded definition: mmseg resize (align_corners=False) -> CE with ignore, mean over all B·H·W pixels. */
function direct(logits: tf.Tensor4D, labels: tf.Tensor3D, weight: number, ignore: number): { loss: tf.Scalar; acc: tf.Scalar } {
  const [B, H, W] = labels.shape;
  const K = logits.shape[3];
  const up = resizeBilinear(logits, [H, W]); // tfjs's own ResizeBilinearGrad is wrong with half-pixel centres (see resize.ts)
  const z = tf.reshape(up, [B * H * W, K]);
  const y = tf.reshape(labels, [B * H * W]);
  const valid = tf.cast(tf.notEqual(y, ignore), 'float32');
  const oh = tf.oneHot(tf.where(tf.notEqual(y, ignore), y, tf.zerosLike(y)), K);
  const nll = tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(tf.logSoftmax(z), oh), 1), valid)));
  const hit = tf.cast(tf.equal(tf.argMax(z, 1), y), 'float32');
  return { loss: tf.mul(tf.div(nll, B * H * W), weight) as tf.Scalar, acc: tf.div(tf.mul(tf.sum(tf.mul(hit, valid)), 100), tf.sum(valid)) as tf.Scalar };
}

function data(B: number, h: number, w: number, H: number, W: number, K: number, ignore: number) {
  const rng = new Rng(7);
  const lg = Float32Array.from({ length: B * h * w * K }, () => 3 * (rng.random() - 0.5));
  const lb = Int32Array.from({ length: B * H * W }, () => (rng.random() < 0.15 ? ignore : Math.floor(rng.random() * K)));
  return { logits: tf.tensor4d(lg, [B, h, w, K]), labels: tf.tensor3d(lb, [B, H, W], 'int32') };
}

const maxRel = (a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array) => {
  let m = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return m / s;
};

describe('segLoss in bands', () => {
  const cases: Array<[string, number, number, number, number, number]> = [
    // name, h, w, H, W, bandElems (in [B, rows, W, K] elements)
    ['upsampled ×4, one band', 6, 5, 24, 20, 1 << 23],
    ['upsampled ×4, one row per band', 6, 5, 24, 20, 1],
    ['upsampled ×4, 7-row bands (uneven last band)', 6, 5, 24, 20, 2 * 7 * 20 * 5],
    ['same size, 5-row bands', 12, 9, 12, 9, 2 * 5 * 9 * 5],
  ];
  for (const [name, h, w, H, W, bandElems] of cases) {
    test(name, () => {
      const B = 2;
      const K = 5;
      const ignore = 255;
      const { logits, labels } = data(B, h, w, H, W, K, ignore);
      const before = tf.memory().numTensors;
      let oursAcc: tf.Scalar | null = null;
      const ours = tf.valueAndGrad((x: tf.Tensor) => {
        const r = segLoss(x as tf.Tensor4D, labels, { weight: 0.4, ignoreIndex: ignore, bandElems });
        oursAcc = r.acc;
        return r.loss;
      })(logits);
      (oursAcc as unknown as tf.Scalar).dispose();
      const ref = tf.valueAndGrad((x: tf.Tensor) => direct(x as tf.Tensor4D, labels, 0.4, ignore).loss)(logits);
      expect(Math.abs(ours.value.dataSync()[0] - ref.value.dataSync()[0]) / Math.abs(ref.value.dataSync()[0])).toBeLessThan(1e-6);
      expect(maxRel(ours.grad.dataSync() as Float32Array, ref.grad.dataSync() as Float32Array)).toBeLessThan(1e-5);
      const a = segLoss(logits, labels, { weight: 0.4, ignoreIndex: ignore, bandElems });
      const ra = tf.tidy(() => direct(logits, labels, 0.4, ignore));
      expect(a.acc.dataSync()[0]).toBeCloseTo(ra.acc.dataSync()[0], 4);
      tf.dispose([ours.value, ours.grad, ref.value, ref.grad, a.loss, a.acc, ra.loss, ra.acc]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([logits, labels]);
    });
  }

  test('every pixel ignored: loss 0 and acc NaN (mmseg 100/0·0)', () => {
    const { logits } = data(1, 4, 4, 8, 8, 3, 255);
    const labels = tf.fill([1, 8, 8], 255, 'int32') as tf.Tensor3D;
    const r = segLoss(logits, labels, { weight: 1, ignoreIndex: 255, bandElems: 3 * 8 * 2 });
    expect(Math.abs(r.loss.dataSync()[0])).toBe(0);
    expect(r.acc.dataSync()[0]).toBeNaN();
    tf.dispose([logits, labels, r.loss, r.acc]);
  });

  test('peak memory of the banded loss + gradient stays far below the whole upsampled map', async () => {
    const B = 2;
    const [h, H, K] = [32, 128, 40];
    const { logits, labels } = data(B, h, h, H, H, K, 255);
    const whole = B * H * H * K * 4; // bytes of one upsampled map
    const prof = async (bandElems: number) => {
      const base = tf.memory().numBytes;
      const info = await tf.profile(() =>
        tf.grad((x: tf.Tensor) => {
          const r = segLoss(x as tf.Tensor4D, labels, { weight: 1, ignoreIndex: 255, bandElems });
          r.acc.dispose();
          return r.loss;
        })(logits),
      );
      tf.dispose(info.result as tf.Tensor);
      return info.peakBytes - base;
    };
    const banded = await prof(B * 4 * H * K); // 4-row bands
    const unbanded = await prof(1 << 30);
    expect(unbanded).toBeGreaterThan(whole); // the measurement sees the map when it exists
    // measured: 4-row bands 4.8 MB over the inputs, one band 81.5 MB (the whole map is 5.2 MB)
    expect(banded).toBeLessThan(whole);
    expect(banded).toBeLessThan(unbanded / 8);
    tf.dispose([logits, labels]);
  });
});
