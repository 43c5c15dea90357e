/** mmseg IoUMetric parity: per-image areas, totals, per-class ratios, printed table and summary (miou.json). */
import { describe, expect, test } from 'vitest';
import { loadFixture, i32 } from '../helpers/golden.js';
import { IoUAccumulator, type IoUMetricName } from '../../src/metrics/iou.js';
import { formatClassTable } from '../../src/metrics/table.js';

const fx = loadFixture('miou');
const C: number = fx.config.num_classes;

/** JSON floats are float32 shortest reprs; null = NaN. */
function sameF32(got: ArrayLike<number>, want: (number | null)[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    if (w === null) expect(Number.isNaN(got[i]), `index ${i} should be NaN, got ${got[i]}`).toBe(true);
    else expect(got[i], `index ${i}`).toBe(Math.fround(w));
  }
}

function sameExact(got: ArrayLike<number>, want: (number | null)[]): void {
  expect(Array.from(got).map((v) => (Number.isNaN(v) ? null : v))).toEqual(want);
}

describe('IoUAccumulator vs mmseg IoUMetric (miou.json)', () => {
  for (const run of fx.expected) {
    const metrics = run.iou_metrics as IoUMetricName[];
    test(`iou_metrics = ${JSON.stringify(metrics)}`, () => {
      const acc = new IoUAccumulator(C, fx.config.ignore_index);
      fx.inputs.preds.forEach((_: unknown, k: number) => {
        const areas = acc.add(i32(fx.inputs.preds[k]), i32(fx.inputs.labels[k]));
        const want = run.per_image_areas[k];
        expect(Array.from(areas.intersect)).toEqual(want.intersect.data);
        expect(Array.from(areas.union)).toEqual(want.union.data);
        expect(Array.from(areas.predLabel)).toEqual(want.pred_label.data);
        expect(Array.from(areas.label)).toEqual(want.label.data);
      });
      const r = acc.compute(metrics);
      expect(Array.from(r.totals.intersect)).toEqual(run.total_areas.intersect.data);
      expect(Array.from(r.totals.union)).toEqual(run.total_areas.union.data);
      expect(Array.from(r.totals.predLabel)).toEqual(run.total_areas.pred_label.data);
      expect(Array.from(r.totals.label)).toEqual(run.total_areas.label.data);

      expect(r.aAccRatio).toBe(Math.fround(run.aAcc_ratio));
      expect(Object.keys(r.perClass).sort()).toEqual(Object.keys(run.per_class).sort());
      for (const [k, want] of Object.entries(run.per_class)) sameF32(r.perClass[k as 'IoU']!, want as (number | null)[]);
      for (const [k, want] of Object.entries(run.per_class_percent_rounded)) sameExact(r.perClassPercent[k as 'IoU']!, want as (number | null)[]);
      // exact equality of the returned dict, key order included
      expect(Object.keys(r.metrics)).toEqual(Object.keys(run.metrics));
      expect(r.metrics).toEqual(run.metrics);
      console.log(`${JSON.stringify(metrics)}\n` + formatClassTable(r, Array.from({ length: C }, (_, k) => `class_${k}`)));
    });
  }
});
