/** Order statistics of the per-step times of `npm run bench`. */

/** The q-quantile (0 ≤ q ≤ 1) with linear interpolation between order statistics (numpy's default). */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (xs: number[]): number => quantile(xs, 0.5);

/**
 * A figure's spread over its steps, rounded to `digits` decimals after dividing by `scale` (e.g. 1000 for ms → s):
 * `range` = [min, max], `iqr` = [25th, 75th percentile].
 */
export function spread(xs: number[], scale = 1, digits = 1): { range: [number, number]; iqr: [number, number] } {
  const r = (v: number) => +(v / scale).toFixed(digits);
  return { range: [r(quantile(xs, 0)), r(quantile(xs, 1))], iqr: [r(quantile(xs, 0.25)), r(quantile(xs, 0.75))] };
}
