/**
 * lrAt (closed form) vs a step-by-step simulation of mmengine's chainable schedulers: every scheduler steps once at
 * construction and once after every iteration, each updating the group lr recursively from its current value.
 */
import { describe, expect, test } from 'vitest';
import { epochWarmupCosine, fromEpochs, groupLr, lrAt, scaledLr, warmupCosine, warmupPoly, type LrPhase } from '../../src/engine/schedule.js';

/** A transcription of mmengine _ParamScheduler.step + each _get_value (recursive form). */
function simulateMmengine(phases: LrPhase[], baseLr: number, iters: number): number[] {
  const group = { lr: baseLr, initial: baseLr };
  const scheds = phases.map((p) => ({ p, globalStep: -1, lastStep: -1 }));
  const stepOne = (s: (typeof scheds)[number]) => {
    s.globalStep += 1;
    if (!(s.p.begin <= s.globalStep && s.globalStep < s.p.end)) return;
    s.lastStep += 1;
    const k = s.lastStep;
    const p = s.p;
    if (p.type === 'LinearLR') {
      const e = p.endFactor ?? 1;
      const total = p.end - p.begin - 1;
      group.lr = k === 0 ? group.lr * p.startFactor : group.lr * (1 + (e - p.startFactor) / (total * p.startFactor + (k - 1) * (e - p.startFactor)));
    } else if (p.type === 'CosineAnnealingLR') {
      const T = p.tMax ?? p.end - p.begin;
      const eta = p.etaMin ?? 0;
      if (k === 0) return;
      if ((k - 1 - T) % (2 * T) === 0) group.lr = group.lr + ((group.initial - eta) * (1 - Math.cos(Math.PI / T))) / 2;
      else group.lr = ((1 + Math.cos((Math.PI * k) / T)) / (1 + Math.cos((Math.PI * (k - 1)) / T))) * (group.lr - eta) + eta;
    } else {
      const total = p.end - p.begin - 1;
      const eta = p.etaMin ?? 0;
      if (k === 0) return;
      group.lr = (group.lr - eta) * (1 - 1 / (total - k + 1)) ** (p.power ?? 1) + eta;
    }
  };
  scheds.forEach(stepOne); // construction
  const out: number[] = [];
  for (let i = 0; i < iters; i++) {
    out.push(group.lr); // the lr iteration i trains with
    scheds.forEach(stepOne); // ParamSchedulerHook.after_train_iter
  }
  return out;
}

function expectClose(phases: LrPhase[], baseLr: number, iters: number, tol = 1e-9): void {
  const sim = simulateMmengine(phases, baseLr, iters);
  for (let i = 0; i < iters; i++) {
    const got = lrAt(i, phases, baseLr);
    expect(Math.abs(got - sim[i]), `iter ${i}: ${got} vs ${sim[i]}`).toBeLessThanOrEqual(tol * Math.max(Math.abs(sim[i]), 1e-12 * baseLr) + 1e-300);
  }
}

describe('lrAt matches the recursive mmengine schedulers', () => {
  test('MFF pretrain: LinearLR(1e-4, 0→40 ep) + Cosine(T_max 260 ep), 3 iters/epoch', () => {
    const phases = fromEpochs(
      [
        { type: 'LinearLR', startFactor: 1e-4, begin: 0, end: 40 },
        { type: 'CosineAnnealingLR', tMax: 260, begin: 40, end: 300, etaMin: 0 },
      ],
      3,
    );
    expect(phases[1]).toMatchObject({ begin: 120, end: 900, tMax: 780 });
    expectClose(phases, 2.4e-3, 900 + 5);
    expect(lrAt(0, phases, 2.4e-3)).toBeCloseTo(2.4e-7, 15);
    expect(lrAt(119, phases, 2.4e-3)).toBeCloseTo(2.4e-3, 15); // warmup reaches 1 at its last iteration
  });

  test('fine-tune: cosine with eta_min 1e-6, applied per group (lr_scale 0.65^13)', () => {
    const phases = warmupCosine({ warmupIters: 25, totalIters: 500, startFactor: 1e-4, etaMin: 1e-6 });
    const base = 2e-3 * 0.65 ** 13;
    expectClose(phases, base, 500);
    expect(groupLr(400, phases, 2e-3)(0.65 ** 13)).toBe(lrAt(400, phases, base));
    // eta_min is absolute: the small group does not scale proportionally with the big one
    expect(lrAt(499, phases, base) / lrAt(499, phases, 2e-3)).not.toBeCloseTo(0.65 ** 13, 3);
  });

  test('epoch recipe in steps: warmup rounded to whole steps, cosine to the end; warmup-only and empty edge cases', () => {
    const s = { epochs: 2, warmupEpochs: 0.5, warmupStartFactor: 0.1, etaMin: 1e-6 };
    expect(epochWarmupCosine(s, 5)).toEqual(warmupCosine({ warmupIters: 3, totalIters: 10, startFactor: 0.1, etaMin: 1e-6 }));
    expect(epochWarmupCosine({ ...s, warmupEpochs: 0 }, 5)).toEqual([{ type: 'CosineAnnealingLR', begin: 0, end: 10, tMax: 10, etaMin: 1e-6 }]);
    expect(epochWarmupCosine({ ...s, warmupEpochs: 3 }, 5)).toEqual([{ type: 'LinearLR', begin: 0, end: 10, startFactor: 0.1 }]);
    expect(epochWarmupCosine({ ...s, epochs: 0 }, 5)).toEqual([]);
  });

  test('mmseg 160k: LinearLR(1e-6, 1500) + PolyLR(power 1, eta_min 0), shrunk', () => {
    const phases = warmupPoly({ warmupIters: 150, totalIters: 1600 });
    expectClose(phases, 1e-4, 1600);
    // notes: i >= warmup: lr = base·(1 − (i − W)/(T − W − 1))
    expect(lrAt(1000, phases, 1e-4)).toBeCloseTo(1e-4 * (1 - 850 / 1449), 15);
    expect(lrAt(1599, phases, 1e-4)).toBe(0);
  });

  test('PolyLR power 0.9 with eta_min, LinearLR end_factor, and a gap between phases', () => {
    const phases: LrPhase[] = [
      { type: 'LinearLR', startFactor: 0.1, endFactor: 0.5, begin: 0, end: 10 },
      { type: 'PolyLR', power: 0.9, etaMin: 1e-5, begin: 20, end: 70 },
    ];
    expectClose(phases, 1e-3, 90);
  });

  test('cosine ending with eta_min beyond its last step stays constant', () => {
    const phases: LrPhase[] = [{ type: 'CosineAnnealingLR', begin: 0, end: 10, etaMin: 1e-6 }];
    expectClose(phases, 1e-2, 20);
    expect(lrAt(15, phases, 1e-2)).toBe(lrAt(9, phases, 1e-2));
  });
});

describe('schedule helpers and errors', () => {
  test('scaledLr is the linear scaling rule', () => {
    expect(scaledLr(1.5e-4, 4096)).toBeCloseTo(2.4e-3, 15);
    expect(scaledLr(0.1, 16384, 256)).toBeCloseTo(6.4, 12);
    expect(() => scaledLr(1e-3, 0)).toThrow(/batch/);
  });

  test('overlapping phases and bad iterations fail loudly', () => {
    const bad: LrPhase[] = [
      { type: 'LinearLR', startFactor: 0.1, begin: 0, end: 10 },
      { type: 'PolyLR', begin: 5, end: 20 },
    ];
    expect(() => lrAt(0, bad, 1)).toThrow(/phase 1.*overlaps/);
    expect(() => lrAt(-1, warmupPoly({ warmupIters: 1, totalIters: 5 }), 1)).toThrow(/-1/);
  });
});
