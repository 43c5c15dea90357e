/**
 * Statistics of the benchmark table: mean, sample standard deviation, and two-sided 95 % Student-t intervals of a
 * mean and of a paired difference (the arms of one seed share data order, schedule and head init).
 */

/** t_{0.975, df} for df = 1..30 (then the normal 1.96 is within 2 %). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`tQuantile975: df must be a positive integer, got ${df}`);
  return df <= T975.length ? T975[df - 1] : 1.96;
}

export interface MeanCi {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); NaN for n < 2. */
  std: number;
  /** 95 % interval of the mean; [NaN, NaN] for n < 2. */
  ci95: [number, number];
}

export function meanCi(xs: number[]): MeanCi {
  const n = xs.length;
  if (n === 0) return { n, mean: NaN, std: NaN, ci95: [NaN, NaN] };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, std: NaN, ci95: [NaN, NaN] };
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const h = (tQuantile975(n - 1) * std) / Math.sqrt(n);
  return { n, mean, std, ci95: [mean - h, mean + h] };
}

/** Paired difference a − b over the seeds both have (keys = seeds). */
export function pairedDiff(a: Map<number, number>, b: Map<number, number>): MeanCi & { seeds: number[] } {
  const seeds = [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y);
  return { ...meanCi(seeds.map((s) => a.get(s)! - b.get(s)!)), seeds };
}

/** '12.34 ± 0.56' (mean ± std; std omitted for one value). */
export function fmtMeanStd(m: MeanCi, digits = 2): string {
  if (m.n === 0) return '—';
  return Number.isNaN(m.std) ? m.mean.toFixed(digits) : `${m.mean.toFixed(digits)} ± ${m.std.toFixed(digits)}`;
}

/** '+1.23 [0.45, 2.01]' (mean and 95 % interval; 'n/a' interval for one value). */
export function fmtDiff(m: MeanCi, digits = 2): string {
  if (m.n === 0) return '—';
  const sign = (v: number) => (v >= 0 ? '+' : '') + v.toFixed(digits);
  return Number.isNaN(m.ci95[0]) ? `${sign(m.mean)} [n/a]` : `${sign(m.mean)} [${m.ci95[0].toFixed(digits)}, ${m.ci95[1].toFixed(digits)}]`;
}
