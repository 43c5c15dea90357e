/** Top-k / per-class accuracy against hand-computed cases. */
import { describe, expect, test } from 'vitest';
import { ClsAccuracy, formatClsMetrics, softmaxRow, topK } from '../../src/eval/cls-metrics.js';

describe('topK', () => {
  test('orders by score, ties to the lower class index, k capped at the class count', () => {
    expect(topK([0.1, 0.5, 0.5, 0.2], 3)).toEqual({ labels: [1, 2, 3], scores: [0.5, 0.5, 0.2] });
    expect(topK([3, 1], 5).labels).toEqual([0, 1]);
  });
});

describe('ClsAccuracy', () => {
  test('top-1, top-5 and per-class accuracy of a 6-class batch', () => {
    const acc = new ClsAccuracy(['a', 'b', 'c', 'd', 'e', 'f']);
    // row 0: label 0 ranked 1st  -> top1, top5
    // row 1: label 1 ranked 2nd  -> top5 only
    // row 2: label 2 ranked 6th  -> neither
    // row 3: label 0 ranked 5th  -> top5 only
    const scores = [
      9, 1, 2, 3, 4, 5,
      0, 8, 9, 1, 2, 3,
      6, 5, 0, 4, 3, 2,
      2, 6, 5, 4, 3, 1,
    ];
    const ranked = acc.update(scores, [0, 1, 2, 0]);
    expect(ranked[1].labels).toEqual([2, 1, 5, 4, 3]);
    const m = acc.compute();
    expect(m.images).toBe(4);
    expect(m.top1).toBeCloseTo(25, 12);
    expect(m.top5).toBeCloseTo(75, 12);
    expect(m.topk).toEqual([1, 5]);
    // class a: 1 of 2, class b: 0 of 1, class c: 0 of 1, d-f: no images (NaN, excluded from the mean)
    expect(m.perClass.map((c) => c.images)).toEqual([2, 1, 1, 0, 0, 0]);
    expect(m.perClass[0].top1).toBeCloseTo(50, 12);
    expect(m.perClass[1].top1).toBe(0);
    expect(Number.isNaN(m.perClass[3].top1)).toBe(true);
    expect(m.meanClassAccuracy).toBeCloseTo(50 / 3, 12);
  });

  test('accumulates over batches; top-k with fewer than 5 classes is top-K (always 100%)', () => {
    const acc = new ClsAccuracy(['x', 'y', 'z']);
    acc.update([1, 0, 0], [0]);
    acc.update([0, 1, 0, 1, 0, 0], [1, 1]); // right, wrong
    const m = acc.compute();
    expect(m.top1).toBeCloseTo(200 / 3, 12);
    expect(m.topk).toEqual([1, 3]);
    expect(m.top5).toBe(100);
    expect(formatClsMetrics(m)).toContain('accuracy/top3: 100.00');
  });

  test('rejects a label outside the classes and a wrong score count', () => {
    const acc = new ClsAccuracy(['x', 'y']);
    expect(() => acc.update([1, 0], [2])).toThrow(/label 2 is not a class in \[0, 2\)/);
    expect(() => acc.update([1, 0, 3], [0])).toThrow(/3 scores for 1 labels × 2 classes/);
  });

  test('softmaxRow sums to one and is shift invariant', () => {
    const p = softmaxRow([1000, 1001, 1002]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[2]).toBeCloseTo(Math.exp(2) / (1 + Math.E + Math.exp(2)), 12);
  });
});
