/**
 * Classification metrics as mmpretrain's Accuracy (topk) plus per-class accuracy (recall): accumulate
 * per-class counts batch by batch, compute once. A sample is top-k correct when its label is among the k
 * highest scores (ties broken by the lower class index); k is capped at the number of classes.
 * Accuracies are percentages, as mmpretrain reports them (`accuracy/top1`).
 */

export interface Ranked {
  /** Class indices by decreasing score (first k). */
  labels: number[];
  scores: number[];
}

/** The k best classes of one row of scores. */
export function topK(scores: ArrayLike<number>, k: number): Ranked {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  const labels = idx.slice(0, Math.min(k, scores.length));
  return { labels, scores: labels.map((i) => scores[i]) };
}

export interface ClassAccuracy {
  label: number;
  name: string;
  images: number;
  /** Top-1 accuracy (recall) of this class in %, NaN when it has no images. */
  top1: number;
}

export interface ClsMetrics {
  images: number;
  /** Effective k of the "top-5" column (min(5, classes)). */
  topk: [number, number];
  top1: number;
  top5: number;
  /** Unweighted mean of the per-class top-1 over classes with images. */
  meanClassAccuracy: number;
  perClass: ClassAccuracy[];
}

/** The raw per-class counts behind ClsMetrics: what an evaluation shard writes and `mff merge-eval` sums. */
export interface ClsCounts {
  total: number[];
  correct1: number[];
  correct5: number[];
}

export class ClsAccuracy {
  private readonly total: Int32Array;
  private readonly correct1: Int32Array;
  private readonly correct5: Int32Array;
  private readonly k5: number;

  constructor(readonly classNames: string[]) {
    if (classNames.length === 0) throw new Error('ClsAccuracy: no classes');
    const K = classNames.length;
    this.total = new Int32Array(K);
    this.correct1 = new Int32Array(K);
    this.correct5 = new Int32Array(K);
    this.k5 = Math.min(5, K);
  }

  /** scores [B, K] row-major (logits or probabilities), labels [B]. Returns each row's top-5 (for per-image output). */
  update(scores: ArrayLike<number>, labels: ArrayLike<number>): Ranked[] {
    const K = this.classNames.length;
    const B = labels.length;
    if (scores.length !== B * K) throw new Error(`ClsAccuracy.update: ${scores.length} scores for ${B} labels × ${K} classes`);
    const out: Ranked[] = [];
    for (let b = 0; b < B; b++) {
      const y = labels[b];
      if (!Number.isInteger(y) || y < 0 || y >= K) throw new Error(`ClsAccuracy.update: label ${y} is not a class in [0, ${K})`);
      const row = Array.prototype.slice.call(scores, b * K, (b + 1) * K) as number[];
      const r = topK(row, this.k5);
      this.total[y]++;
      if (r.labels[0] === y) this.correct1[y]++;
      if (r.labels.includes(y)) this.correct5[y]++;
      out.push(r);
    }
    return out;
  }

  /** A copy of the per-class counts (integers; sums of them are exact in any order). */
  counts(): ClsCounts {
    return { total: Array.from(this.total), correct1: Array.from(this.correct1), correct5: Array.from(this.correct5) };
  }

  /** Add the counts of another accumulator over the same classes (e.g. an evaluation shard). */
  addCounts(c: ClsCounts, where = 'ClsAccuracy.addCounts'): void {
    const K = this.classNames.length;
    for (const k of ['total', 'correct1', 'correct5'] as const) {
      const v = c[k];
      if (!Array.isArray(v) || v.length !== K) throw new Error(`${where}: ${k} has ${Array.isArray(v) ? v.length : 'no'} entries, expected ${K} classes`);
      v.forEach((x, i) => {
        if (!Number.isInteger(x) || x < 0) throw new Error(`${where}: ${k}[${i}] = ${x} is not a count`);
      });
    }
    for (let i = 0; i < K; i++) {
      this.total[i] += c.total[i];
      this.correct1[i] += c.correct1[i];
      this.correct5[i] += c.correct5[i];
    }
  }

  compute(): ClsMetrics {
    const sum = (a: Int32Array) => a.reduce((s, v) => s + v, 0);
    const n = sum(this.total);
    const pct = (c: number, t: number) => (t > 0 ? (100 * c) / t : NaN);
    const perClass = this.classNames.map((name, label) => ({ label, name, images: this.total[label], top1: pct(this.correct1[label], this.total[label]) }));
    const present = perClass.filter((c) => c.images > 0);
    return {
      images: n,
      topk: [1, this.k5],
      top1: pct(sum(this.correct1), n),
      top5: pct(sum(this.correct5), n),
      meanClassAccuracy: present.length ? present.reduce((s, c) => s + c.top1, 0) / present.length : NaN,
      perClass,
    };
  }
}

/** Softmax of one row (float64), for the per-image scores. */
export function softmaxRow(logits: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) m = Math.max(m, logits[i]);
  const out = new Float64Array(logits.length);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += out[i] = Math.exp(logits[i] - m);
  for (let i = 0; i < out.length; i++) out[i] /= s;
  return out;
}

/** The lines `mff cls-eval` and tools/test.ts print: identical by construction. */
export function formatClsMetrics(m: ClsMetrics): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
  return [
    `accuracy/top1: ${f(m.top1)}`,
    `accuracy/top${m.topk[1]}: ${f(m.top5)}`,
    `mean class accuracy: ${f(m.meanClassAccuracy)}`,
    `images: ${m.images}`,
  ].join('\n');
}
