/** The benchmark's intervals against SciPy (stats.t.ppf(0.975, df), numpy std(ddof=1); values computed once with SciPy 1.10). */
import { describe, expect, test } from 'vitest';
import { meanCi, pairedDiff, tQuantile975, fmtDiff, fmtMeanStd } from '../../src/engine/benchmark/stats.js';

const SCIPY_T975 = [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788, 2.1604, 2.1448, 2.1314,
  2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423];

describe('benchmark statistics', () => {
  test('t quantiles match SciPy for df 1..30', () => {
    SCIPY_T975.forEach((t, i) => expect(Math.abs(tQuantile975(i + 1) - t), `df ${i + 1}`).toBeLessThan(1e-3));
    expect(() => tQuantile975(0)).toThrow(/df/);
  });

  test('mean, std and 95 % interval of three seeds = SciPy', () => {
    const m = meanCi([61.2, 58.9, 63.4]);
    expect(m.mean).toBeCloseTo(61.166666666666664, 10);
    expect(m.std).toBeCloseTo(2.250185177565023, 10);
    expect(m.ci95[0]).toBeCloseTo(55.57689680844556, 2);
    expect(m.ci95[1]).toBeCloseTo(66.75643652488776, 2);
  });

  test('paired difference over the common seeds = SciPy on the differences; one value has no interval', () => {
    const a = new Map([[0, 61.2], [1, 58.9], [2, 63.4], [3, 99]]);
    const b = new Map([[0, 55.0], [1, 57.5], [2, 54.1]]);
    const d = pairedDiff(a, b);
    expect(d.seeds).toEqual([0, 1, 2]);
    expect(d.mean).toBeCloseTo(5.633333333333333, 10);
    expect(d.std).toBeCloseTo(3.9803684921541285, 10);
    expect(d.ci95[0]).toBeCloseTo(-4.2544501450613925, 2);
    expect(d.ci95[1]).toBeCloseTo(15.521116811728058, 2);
    const one = meanCi([3]);
    expect(Number.isNaN(one.std) && Number.isNaN(one.ci95[0])).toBe(true);
    expect(fmtMeanStd(one)).toBe('3.00');
    expect(fmtDiff(one)).toBe('+3.00 [n/a]');
    expect(fmtMeanStd(meanCi([]))).toBe('—');
  });
});
