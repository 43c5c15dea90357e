/** Classification losses and Mixup/CutMix against hand-computed references. */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { Rng } from '../../src/io/rng.js';
import { crossEntropy, labelSmoothLoss, oneHot, softCrossEntropy, smoothLabels } from '../../src/engine/cls-loss.js';
import { cutmix, cutmixBox, mixup, randomBatchAugment, sampleBeta, sampleGamma, FINETUNE_AUGMENTS } from '../../src/engine/mixup.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

/** An Rng whose uniforms are the given values (int(n) = floor(u·n) uses them too). */
class SeqRng extends Rng {
  private i = 0;
  constructor(private readonly values: number[]) {
    super(0);
  }
  override random(): number {
    if (this.i >= this.values.length) throw new Error('SeqRng exhausted');
    return this.values[this.i++];
  }
}

const scalar = (f: () => tf.Scalar) => tf.tidy(() => f().dataSync()[0]);

describe('losses', () => {
  // logits row 0 = [1, 2, 3], row 1 = [0, 0, 0]; log-sum-exp by hand
  const lse0 = Math.log(Math.E + Math.E ** 2 + Math.E ** 3);
  const lse1 = Math.log(3);
  const logits = () => tf.tensor2d([1, 2, 3, 0, 0, 0], [2, 3]);

  test('cross entropy with class indices = mean of −log p[y]', () => {
    const want = ((lse0 - 3) + (lse1 - 0)) / 2;
    expect(scalar(() => crossEntropy(logits(), [2, 1]))).toBeCloseTo(want, 5);
    expect(() => oneHot([3], 3)).toThrow(/label 3/);
  });

  test('label smoothing (original): targets (1−ε)y + ε/K, then soft CE', () => {
    // eps 0.1, K 3: true class 0.9 + 0.1/3, the others 0.1/3
    const hi = 0.9 + 0.1 / 3;
    const lo = 0.1 / 3;
    const row0 = hi * (lse0 - 1) + lo * (lse0 - 2) + lo * (lse0 - 3); // label 0
    const row1 = lse1; // uniform logits: any target summing to 1 gives log 3
    expect(scalar(() => labelSmoothLoss(logits(), [0, 2], { smooth: 0.1, mode: 'original' }))).toBeCloseTo((row0 + row1) / 2, 5);
    expect(Array.from(smoothLabels([1, 0, 0], 3))).toEqual([hi, lo, lo].map(Math.fround));
    // classy_vision: eps' = 0.1 / 1.1
    const e = 0.1 / 1.1;
    expect(smoothLabels([0, 1], 2, { mode: 'classy_vision' })[1]).toBeCloseTo(1 - e + e / 2, 7);
  });

  test('mixed (soft) labels: smoothing applies to the mixed scores; tensor and array targets agree', () => {
    const mixed = [0.7, 0.3, 0, 0, 0, 1];
    const t = smoothLabels(mixed, 3);
    const row0 = t[0] * (lse0 - 1) + t[1] * (lse0 - 2) + t[2] * (lse0 - 3);
    const row1 = lse1;
    const want = (row0 + row1) / 2;
    expect(scalar(() => labelSmoothLoss(logits(), mixed))).toBeCloseTo(want, 5);
    expect(scalar(() => labelSmoothLoss(logits(), tf.tensor2d(mixed, [2, 3])))).toBeCloseTo(want, 5);
    expect(scalar(() => softCrossEntropy(logits(), tf.tensor2d(mixed, [2, 3])))).toBeCloseTo((0.7 * (lse0 - 1) + 0.3 * (lse0 - 2) + lse1) / 2, 5);
  });
});

describe('Beta via Marsaglia–Tsang Gamma', () => {
  test('moments of Gamma(k) and Beta(0.8, 0.8) / Beta(1, 1)', () => {
    const rng = new Rng(123);
    const N = 20000;
    for (const k of [0.4, 0.8, 2.5]) {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < N; i++) {
        const g = sampleGamma(rng, k);
        s += g;
        s2 += g * g;
      }
      const mean = s / N;
      expect(Math.abs(mean - k)).toBeLessThan(0.05 * Math.max(1, k)); // E = k
      expect(Math.abs(s2 / N - mean * mean - k) / k).toBeLessThan(0.1); // Var = k
    }
    for (const a of [0.8, 1.0]) {
      let s = 0;
      let s2 = 0;
      let outside = 0;
      for (let i = 0; i < N; i++) {
        const x = sampleBeta(rng, a, a);
        if (!(x >= 0 && x <= 1)) outside++;
        s += x;
        s2 += x * x;
      }
      expect(outside).toBe(0);
      const v = (a * a) / ((2 * a) ** 2 * (2 * a + 1)); // Beta(a, a) variance
      expect(Math.abs(s / N - 0.5)).toBeLessThan(0.01);
      expect(Math.abs(s2 / N - (s / N) ** 2 - v) / v).toBeLessThan(0.05);
    }
  });
});

describe('Mixup / CutMix', () => {
  // 3 images 2x2x1, pixel values 10b + i; one-hot targets of classes 0, 1, 2
  const batch = () => ({
    imgs: Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]),
    shape: [3, 2, 2, 1] as [number, number, number, number],
    targets: oneHot([0, 1, 2], 3),
    numClasses: 3,
  });

  test('mixup: imgs and targets are lam·x + (1−lam)·x[index]', () => {
    const r = mixup(batch(), 0.8, new Rng(5));
    expect(r.lam).toBeGreaterThan(0);
    expect(r.lam).toBeLessThan(1);
    expect([...r.index].sort()).toEqual([0, 1, 2]);
    for (let b = 0; b < 3; b++) {
      for (let i = 0; i < 4; i++) expect(r.imgs[b * 4 + i]).toBeCloseTo(r.lam * (10 * b + i) + (1 - r.lam) * (10 * r.index[b] + i), 4);
      for (let k = 0; k < 3; k++) expect(r.targets[b * 3 + k]).toBeCloseTo(r.lam * Number(k === b) + (1 - r.lam) * Number(k === r.index[b]), 6);
    }
  });

  test('cutmix box: cut = int(side·sqrt(1−lam)), centre randint, clipped, lam corrected', () => {
    // 10x10, lam 0.64: ratio 0.6, cut 6; cy = floor(0.25·10) = 2, cx = floor(0.95·10) = 9
    // y: [clip(2−3), clip(2+3)) = [0, 5); x: [6, clip(12) = 10) -> area 20, lam = 1 − 20/100
    const b = cutmixBox(10, 10, 0.64, new SeqRng([0.25, 0.95]));
    expect(b).toEqual({ y1: 0, y2: 5, x1: 6, x2: 10, lam: 0.8 });
    expect(cutmixBox(10, 10, 0.64, new SeqRng([0.25, 0.95]), false).lam).toBe(0.64);
  });

  test('cutmix pastes the partner inside the box only; targets use the corrected lam', () => {
    const r = cutmix(batch(), 1.0, new Rng(11));
    const { y1, y2, x1, x2 } = r.box!;
    expect(r.lam).toBeCloseTo(1 - ((y2 - y1) * (x2 - x1)) / 4, 10);
    for (let b = 0; b < 3; b++)
      for (let y = 0; y < 2; y++)
        for (let x = 0; x < 2; x++) {
          const inBox = y >= y1 && y < y2 && x >= x1 && x < x2;
          expect(r.imgs[b * 4 + y * 2 + x]).toBe(10 * (inBox ? r.index[b] : b) + y * 2 + x);
        }
    for (let b = 0; b < 3; b++) expect(r.targets[b * 3 + r.index[b]]).toBeCloseTo(r.index[b] === b ? 1 : 1 - r.lam, 6);
  });

  test('RandomBatchAugment picks mixup / cutmix uniformly', () => {
    const rng = new Rng(7);
    const n = { mixup: 0, cutmix: 0 };
    for (let i = 0; i < 400; i++) n[randomBatchAugment(batch(), FINETUNE_AUGMENTS, rng).kind]++;
    expect(n.mixup).toBeGreaterThan(150);
    expect(n.cutmix).toBeGreaterThan(150);
    expect(() => mixup({ ...batch(), targets: new Float32Array(3) }, 0.8, rng)).toThrow(/one-hot/);
  });
});
