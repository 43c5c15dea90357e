/**
 * mmseg `IoUMetric` (mmseg/evaluation/metrics/iou_metric.py, 1.x), reproduced to the last float32 bit.
 *
 * process():  per image, drop label == ignoreIndex, histogram intersect / pred / label (torch.histc, bins = C,
 *             range [0, C-1]: values outside it are not counted), union = pred + label - intersect.
 * compute():  sum the per-image float32 histograms in dataset order (python `sum` of float32 tensors), then
 *             IoU = I/U, Acc = I/L, Dice = 2I/(P+L), Precision = I/P, Recall = I/L, Fscore (beta) in float32;
 *             0/0 = NaN. Summary = np.round(np.nanmean(v) * 100, 2) in float32; NaN classes are excluded.
 * All float32 arithmetic is emulated with Math.fround; exact integer totals are kept beside the float32 ones.
 */

export type IoUMetricName = 'mIoU' | 'mDice' | 'mFscore';
/** Per-class metric keys in mmseg's insertion order. */
export type ClassMetricKey = 'IoU' | 'Acc' | 'Dice' | 'Fscore' | 'Precision' | 'Recall';

/** Histograms of one image (or of the dataset): exact counts. */
export interface Areas {
  intersect: Float64Array;
  union: Float64Array;
  predLabel: Float64Array;
  label: Float64Array;
}

export interface IoUResult {
  /** e.g. { aAcc: 63, mIoU: 39.82, mAcc: 64.09 }: percent, rounded to 2 decimals as mmseg returns them. */
  metrics: Record<string, number>;
  /** Un-rounded per-class ratios (float32 values), NaN for 0/0; keys in mmseg order. */
  perClass: Partial<Record<ClassMetricKey, Float32Array>>;
  /** Per-class table as mmseg prints it: np.round(v * 100, 2), NaN kept. */
  perClassPercent: Partial<Record<ClassMetricKey, Float64Array>>;
  /** aAcc as a ratio (float32 value). */
  aAccRatio: number;
  /** Dataset totals as mmseg holds them (float32 sums in dataset order). */
  totals: Areas;
  /** Dataset totals as exact integers (differ from `totals` only beyond 2^24 pixels per class). */
  exactTotals: Areas;
  numImages: number;
}

const f32 = Math.fround;

export class IoUAccumulator {
  readonly numClasses: number;
  readonly ignoreIndex: number;
  private readonly exact: Areas;
  private readonly f32Totals: Areas;
  private images = 0;

  constructor(numClasses: number, ignoreIndex = 255) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`IoUAccumulator: numClasses must be a positive integer, got ${numClasses}`);
    this.numClasses = numClasses;
    this.ignoreIndex = ignoreIndex;
    this.exact = emptyAreas(numClasses);
    this.f32Totals = emptyAreas(numClasses);
  }

  get numImages(): number {
    return this.images;
  }

  /** Accumulate one image (pred and label of equal length, row-major). Returns that image's areas. */
  add(pred: ArrayLike<number>, label: ArrayLike<number>): Areas {
    if (pred.length !== label.length) {
      throw new Error(`IoUAccumulator.add: pred has ${pred.length} pixels but label has ${label.length} (image #${this.images})`);
    }
    const C = this.numClasses;
    const ignore = this.ignoreIndex;
    const inter = new Int32Array(C);
    const predH = new Int32Array(C);
    const labelH = new Int32Array(C);
    // One pass; values outside [0, C-1] fall out of every histogram (torch.histc semantics).
    for (let i = 0; i < label.length; i++) {
      const l = label[i];
      if (l === ignore) continue;
      const p = pred[i];
      const pIn = p >= 0 && p < C;
      if (pIn) predH[p]++;
      if (l >= 0 && l < C) {
        labelH[l]++;
        if (p === l) inter[l]++;
      }
    }
    const areas = emptyAreas(C);
    for (let c = 0; c < C; c++) {
      areas.intersect[c] = inter[c];
      areas.predLabel[c] = predH[c];
      areas.label[c] = labelH[c];
      areas.union[c] = predH[c] + labelH[c] - inter[c];
    }
    this.accumulate(areas);
    return areas;
  }

  /** Add precomputed areas (e.g. from another worker), in dataset order. */
  accumulate(areas: Areas): void {
    const keys = ['intersect', 'union', 'predLabel', 'label'] as const;
    for (const k of keys) {
      const src = areas[k];
      if (src.length !== this.numClasses) throw new Error(`IoUAccumulator.accumulate: ${k} has ${src.length} bins, expected ${this.numClasses}`);
      const ex = this.exact[k];
      const fl = this.f32Totals[k];
      for (let c = 0; c < src.length; c++) {
        ex[c] += src[c];
        fl[c] = f32(fl[c] + f32(src[c])); // torch float32 tensor add
      }
    }
    this.images++;
  }

  reset(): void {
    for (const a of [this.exact, this.f32Totals]) for (const v of Object.values(a)) (v as Float64Array).fill(0);
    this.images = 0;
  }

  compute(metrics: IoUMetricName[] = ['mIoU'], opts: { beta?: number; nanToNum?: number | null } = {}): IoUResult {
    const { beta = 1, nanToNum = null } = opts;
    for (const m of metrics) if (!['mIoU', 'mDice', 'mFscore'].includes(m)) throw new Error(`IoUAccumulator.compute: metric '${m}' is not supported (mIoU, mDice, mFscore)`);
    if (this.images === 0) throw new Error('IoUAccumulator.compute: no images were added');
    const { intersect: I, union: U, predLabel: P, label: L } = this.f32Totals;
    const C = this.numClasses;

    let sumI = 0;
    let sumL = 0;
    for (let c = 0; c < C; c++) {
      sumI = f32(sumI + I[c]);
      sumL = f32(sumL + L[c]);
    }
    let aAcc = f32(sumI / sumL);

    const perClass: Partial<Record<ClassMetricKey, Float32Array>> = {};
    const div = (a: Float64Array, b: Float64Array, scale = 1) => {
      const out = new Float32Array(C);
      for (let c = 0; c < C; c++) out[c] = f32(f32(scale * a[c]) / b[c]); // 0/0 = NaN
      return out;
    };
    for (const m of metrics) {
      if (m === 'mIoU') {
        perClass.IoU = div(I, U);
        perClass.Acc = div(I, L);
      } else if (m === 'mDice') {
        const PL = new Float64Array(C);
        for (let c = 0; c < C; c++) PL[c] = f32(P[c] + L[c]);
        perClass.Dice = div(I, PL, 2);
        perClass.Acc = div(I, L);
      } else {
        const precision = div(I, P);
        const recall = div(I, L);
        const b2 = beta * beta;
        const f = new Float32Array(C);
        // (1 + b^2) * (p * r) / (b^2 * p + r), each op on float32 0-d tensors
        for (let c = 0; c < C; c++) {
          const p = precision[c];
          const r = recall[c];
          f[c] = f32(f32((1 + b2) * f32(p * r)) / f32(f32(b2 * p) + r));
        }
        perClass.Fscore = f;
        perClass.Precision = precision;
        perClass.Recall = recall;
      }
    }
    if (nanToNum !== null) {
      if (Number.isNaN(aAcc)) aAcc = f32(nanToNum);
      for (const v of Object.values(perClass)) for (let c = 0; c < C; c++) if (Number.isNaN(v[c])) v[c] = nanToNum;
    }

    const out: Record<string, number> = { aAcc: roundPercent(aAcc) };
    const perClassPercent: Partial<Record<ClassMetricKey, Float64Array>> = {};
    for (const [key, v] of Object.entries(perClass) as [ClassMetricKey, Float32Array][]) {
      out[`m${key}`] = roundPercent(nanmean32(v));
      const pct = new Float64Array(C);
      for (let c = 0; c < C; c++) pct[c] = roundPercent(v[c]);
      perClassPercent[key] = pct;
    }
    return {
      metrics: out,
      perClass,
      perClassPercent,
      aAccRatio: aAcc,
      totals: cloneAreas(this.f32Totals),
      exactTotals: cloneAreas(this.exact),
      numImages: this.images,
    };
  }
}

/** np.round(np.float32(x) * 100, 2) in float32, returned as the nearest 2-decimal double (NaN stays NaN). */
export function roundPercent(x: number): number {
  if (!Number.isFinite(x)) return x;
  const pct = f32(f32(x) * 100);
  const k = roundHalfEven(f32(pct * 100));
  return k / 100; // the double nearest k/100; its float32 is mmseg's value
}

/** np.rint: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.nanmean over a float32 vector: numpy pairwise float32 sum of non-NaN values / count, in float32. */
export function nanmean32(v: Float32Array): number {
  const vals = new Float32Array(v.length);
  let n = 0;
  for (let i = 0; i < v.length; i++) vals[i] = Number.isNaN(v[i]) ? 0 : v[i]; // _replace_nan(a, 0)
  for (let i = 0; i < v.length; i++) if (!Number.isNaN(v[i])) n++;
  if (n === 0) return NaN;
  return f32(f32(0 + pairwiseSum32(vals, 0, vals.length)) / n);
}

/** numpy `pairwise_sum` (umath loops_utils) for float32: blocks of 8 accumulators below 128, halving above. */
export function pairwiseSum32(a: Float32Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = f32(res + a[start + i]);
    return res;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = a[start + j];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = f32(r[j] + a[start + i + j]);
    let res = f32(f32(f32(r[0] + r[1]) + f32(r[2] + r[3])) + f32(f32(r[4] + r[5]) + f32(r[6] + r[7])));
    for (; i < n; i++) res = f32(res + a[start + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f32(pairwiseSum32(a, start, n2) + pairwiseSum32(a, start + n2, n - n2));
}

function emptyAreas(C: number): Areas {
  return { intersect: new Float64Array(C), union: new Float64Array(C), predLabel: new Float64Array(C), label: new Float64Array(C) };
}

function cloneAreas(a: Areas): Areas {
  return { intersect: a.intersect.slice(), union: a.union.slice(), predLabel: a.predLabel.slice(), label: a.label.slice() };
}
