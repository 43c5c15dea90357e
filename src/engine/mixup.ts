/**
 * Batch augmentations of mmpretrain (models/utils/batch_augments): Mixup, CutMix and RandomBatchAugment, on
 * NHWC Float32Array batches with one-hot-like targets [B, K]. Every random draw comes from the run's Rng, in
 * the reference's order: λ ~ Beta(α, α), then the batch permutation, then (CutMix) the box centre y, x.
 */
import type { Rng } from '../io/rng.js';

/** Gamma(shape, 1) by Marsaglia–Tsang (2000); shape < 1 via Gamma(shape + 1) · U^(1/shape). */
export function sampleGamma(rng: Rng, shape: number): number {
  if (!(shape > 0)) throw new Error(`Gamma shape must be > 0, got ${shape}`);
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = rng.random();
    return sampleGamma(rng, shape + 1) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.random();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) = X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(rng: Rng, a: number, b: number): number {
  const x = sampleGamma(rng, a);
  const y = sampleGamma(rng, b);
  return x / (x + y);
}

export interface Batch {
  /** NHWC, [B, H, W, C] flat. */
  imgs: Float32Array;
  shape: [number, number, number, number];
  /** One-hot-like scores [B, K] flat. */
  targets: Float32Array;
  numClasses: number;
}

export interface MixResult extends Batch {
  /** Mixing ratio actually applied to the targets (CutMix: corrected for the clipped box). */
  lam: number;
  /** Partner of sample b: index[b]. */
  index: Int32Array;
  /** CutMix box [y1, y2) x [x1, x2). */
  box?: { y1: number; y2: number; x1: number; x2: number };
  /** Which augmentation ran ('mixup' | 'cutmix'). */
  kind: 'mixup' | 'cutmix';
}

function check(batch: Batch): void {
  const [B, H, W, C] = batch.shape;
  if (batch.imgs.length !== B * H * W * C) throw new Error(`batch images have ${batch.imgs.length} values, shape [${batch.shape}] needs ${B * H * W * C}`);
  if (batch.targets.length !== B * batch.numClasses) throw new Error(`batch targets have ${batch.targets.length} values, expected ${B}x${batch.numClasses} (one-hot)`);
}

/** scores' = lam · scores + (1 − lam) · scores[index] */
function mixTargets(batch: Batch, lam: number, index: Int32Array): Float32Array {
  const K = batch.numClasses;
  const t = batch.targets;
  const out = new Float32Array(t.length);
  for (let b = 0; b < index.length; b++) for (let k = 0; k < K; k++) out[b * K + k] = lam * t[b * K + k] + (1 - lam) * t[index[b] * K + k];
  return out;
}

/** Mixup: imgs' = lam · imgs + (1 − lam) · imgs[index], lam ~ Beta(α, α). */
export function mixup(batch: Batch, alpha: number, rng: Rng): MixResult {
  check(batch);
  if (!(alpha > 0)) throw new Error(`Mixup alpha must be > 0, got ${alpha}`);
  const lam = sampleBeta(rng, alpha, alpha);
  const [B] = batch.shape;
  const index = rng.permutation(B);
  const n = batch.imgs.length / B;
  const out = new Float32Array(batch.imgs.length);
  for (let b = 0; b < B; b++) {
    const o = b * n;
    const s = index[b] * n;
    for (let i = 0; i < n; i++) out[o + i] = lam * batch.imgs[o + i] + (1 - lam) * batch.imgs[s + i];
  }
  return { ...batch, imgs: out, targets: mixTargets(batch, lam, index), lam, index, kind: 'mixup' };
}

/**
 * CutMix.rand_bbox: cut = int(side · sqrt(1 − lam)); centre cy, cx = randint(0, H), randint(0, W);
 * box = clip(centre ± cut // 2, 0, side). With correctLam, lam = 1 − box area / (H · W).
 */
export function cutmixBox(H: number, W: number, lam: number, rng: Rng, correctLam = true): { y1: number; y2: number; x1: number; x2: number; lam: number } {
  const ratio = Math.sqrt(1 - lam);
  const cutH = Math.trunc(H * ratio);
  const cutW = Math.trunc(W * ratio);
  const cy = rng.int(H);
  const cx = rng.int(W);
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const y1 = clip(cy - Math.floor(cutH / 2), H);
  const y2 = clip(cy + Math.floor(cutH / 2), H);
  const x1 = clip(cx - Math.floor(cutW / 2), W);
  const x2 = clip(cx + Math.floor(cutW / 2), W);
  return { y1, y2, x1, x2, lam: correctLam ? 1 - ((y2 - y1) * (x2 - x1)) / (H * W) : lam };
}

/** CutMix: paste imgs[index] inside one box shared by the batch; targets mixed with the (corrected) lam. */
export function cutmix(batch: Batch, alpha: number, rng: Rng, correctLam = true): MixResult {
  check(batch);
  if (!(alpha > 0)) throw new Error(`CutMix alpha must be > 0, got ${alpha}`);
  const lam0 = sampleBeta(rng, alpha, alpha);
  const [B, H, W, C] = batch.shape;
  const index = rng.permutation(B);
  const { lam, ...box } = cutmixBox(H, W, lam0, rng, correctLam);
  const out = Float32Array.from(batch.imgs);
  const n = H * W * C;
  for (let b = 0; b < B; b++)
    for (let y = box.y1; y < box.y2; y++) {
      const o = b * n + (y * W + box.x1) * C;
      const s = index[b] * n + (y * W + box.x1) * C;
      out.set(batch.imgs.subarray(s, s + (box.x2 - box.x1) * C), o);
    }
  return { ...batch, imgs: out, targets: mixTargets(batch, lam, index), lam, index, box, kind: 'cutmix' };
}

export type BatchAugmentCfg = { type: 'mixup'; alpha: number } | { type: 'cutmix'; alpha: number; correctLam?: boolean };

/** The fine-tune benchmark's train_cfg.augments. */
export const FINETUNE_AUGMENTS: BatchAugmentCfg[] = [
  { type: 'mixup', alpha: 0.8 },
  { type: 'cutmix', alpha: 1.0, correctLam: true },
];

/** RandomBatchAugment with probs=None: one augmentation picked uniformly per batch. */
export function randomBatchAugment(batch: Batch, augments: BatchAugmentCfg[], rng: Rng): MixResult {
  if (augments.length === 0) throw new Error('randomBatchAugment: no augmentations configured');
  const a = augments[rng.int(augments.length)];
  return a.type === 'mixup' ? mixup(batch, a.alpha, rng) : cutmix(batch, a.alpha, rng, a.correctLam ?? true);
}
