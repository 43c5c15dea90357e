/** Hand-computed IoU cases and the numpy/torch float32 details (values computed with numpy 2.4 float32). */
import { describe, expect, test } from 'vitest';
import { IoUAccumulator, nanmean32, pairwiseSum32, roundPercent } from '../../src/metrics/iou.js';
import { formatClassTable, formatClassTableMarkdown, formatSummary } from '../../src/metrics/table.js';

describe('IoUAccumulator', () => {
  test('hand-computed 2-class case with ignored and out-of-range pixels', () => {
    // label: 0 0 1 1 255 1 ; pred: 0 1 1 1 0 7 (7 is outside [0, 1] and falls out of the pred histogram)
    const acc = new IoUAccumulator(2);
    const a = acc.add(Uint8Array.from([0, 1, 1, 1, 0, 7]), Uint8Array.from([0, 0, 1, 1, 255, 1]));
    expect(Array.from(a.intersect)).toEqual([1, 2]);
    expect(Array.from(a.predLabel)).toEqual([1, 3]);
    expect(Array.from(a.label)).toEqual([2, 3]);
    expect(Array.from(a.union)).toEqual([2, 4]);
    const r = acc.compute(['mIoU']);
    // IoU = [1/2, 2/4], Acc = [1/2, 2/3], aAcc = 3/5
    expect(r.metrics).toEqual({ aAcc: 60, mIoU: 50, mAcc: 58.33 });
    expect(r.perClassPercent.Acc![1]).toBe(66.67);
  });

  test('class absent everywhere is NaN and excluded; prediction-only class scores 0', () => {
    const acc = new IoUAccumulator(3);
    acc.add([0, 0, 1, 0], [0, 0, 0, 0]);
    const r = acc.compute(['mIoU']);
    expect(r.perClass.IoU![0]).toBe(Math.fround(3 / 4));
    expect(r.perClass.IoU![1]).toBe(0);
    expect(Number.isNaN(r.perClass.IoU![2])).toBe(true);
    expect(Number.isNaN(r.perClass.Acc![1])).toBe(true);
    expect(r.metrics.mIoU).toBe(37.5); // (0.75 + 0) / 2
    expect(r.metrics.mAcc).toBe(75);
    const nanZero = acc.compute(['mIoU'], { nanToNum: 0 });
    expect(nanZero.metrics.mIoU).toBe(25);
  });

  test('dataset totals are float32 sums in order (torch), exact totals are kept beside them', () => {
    const acc = new IoUAccumulator(1);
    const big = { intersect: Float64Array.of(10_000_001), union: Float64Array.of(10_000_001), predLabel: Float64Array.of(10_000_001), label: Float64Array.of(10_000_001) };
    for (let k = 0; k < 3; k++) acc.accumulate(big);
    const r = acc.compute();
    expect(r.totals.label[0]).toBe(30_000_004); // numpy: float32 0 + 3 x 10000001
    expect(r.exactTotals.label[0]).toBe(30_000_003);
  });

  test('rejects length mismatch and unknown metrics with clear messages', () => {
    const acc = new IoUAccumulator(2);
    expect(() => acc.add([0, 1], [0])).toThrow(/pred has 2 pixels but label has 1/);
    acc.add([0], [0]);
    expect(() => acc.compute(['mBogus' as 'mIoU'])).toThrow(/mBogus/);
  });

  test('time to accumulate a 512x512 map (printed, not asserted)', () => {
    const n = 512 * 512;
    const pred = new Uint8Array(n);
    const label = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      pred[i] = (i * 7) % 150;
      label[i] = i % 13 === 0 ? 255 : (i * 5) % 150;
    }
    const acc = new IoUAccumulator(150);
    acc.add(pred, label); // warm-up
    const reps = 20;
    const t0 = performance.now();
    for (let k = 0; k < reps; k++) acc.add(pred, label);
    const ms = (performance.now() - t0) / reps;
    console.log(`IoUAccumulator.add 512x512, 150 classes: ${ms.toFixed(2)} ms/image`);
    expect(acc.numImages).toBe(reps + 1);
  });
});

describe('numpy float32 reductions and rounding', () => {
  test('nanmean32 matches np.nanmean on 150 float32 values (pairwise sum)', () => {
    const v = new Float32Array(150);
    for (let i = 0; i < 150; i++) v[i] = 1 / (i + 3);
    v[7] = NaN;
    expect(nanmean32(v)).toBe(Math.fround(0.026875047013163567));
    expect(roundPercent(nanmean32(v))).toBe(2.69);
  });

  test('pairwiseSum32 matches np.sum(float32) on 1000 values', () => {
    const w = new Float32Array(1000);
    for (let i = 0; i < 1000; i++) w[i] = (i * 0.37) % 1;
    expect(pairwiseSum32(w, 0, w.length)).toBe(495);
  });

  test('roundPercent = np.round(x * 100, 2) in float32, ties to even', () => {
    const xs = [0.12345, 0.00125, 0.5, 0.33335, 0.99995].map(Math.fround);
    expect(xs.map(roundPercent)).toEqual([12.34, 0.12, 50, 33.34, 100]);
    expect(Number.isNaN(roundPercent(NaN))).toBe(true);
  });
});

describe('tables', () => {
  test('PrettyTable layout and markdown', () => {
    const acc = new IoUAccumulator(2);
    acc.add([0, 0, 1], [0, 1, 1]);
    const r = acc.compute(['mIoU']);
    const t = formatClassTable(r, ['wall', 'sky']).split('\n');
    // PrettyTable centring: odd excess goes right for odd-length text, left for even-length text
    expect(t).toEqual([
      '+-------+------+-------+',
      '| Class | IoU  |  Acc  |',
      '+-------+------+-------+',
      '|  wall | 50.0 | 100.0 |',
      '|  sky  | 50.0 |  50.0 |',
      '+-------+------+-------+',
    ]);
    expect(formatClassTableMarkdown(r, ['wall', 'sky']).split('\n')[2]).toBe('| wall | 50.0 | 100.0 |');
    expect(formatSummary(r.metrics)).toBe('aAcc: 66.6700  mIoU: 50.0000  mAcc: 75.0000');
    expect(() => formatClassTable(r, ['one'])).toThrow(/1 class names for 2 classes/);
  });
});
