/**
 * Classification losses (mmpretrain models/losses): CrossEntropyLoss (hard labels), soft-target cross entropy
 * (mixed labels from Mixup/CutMix) and LabelSmoothLoss. All reduce with the batch mean (reduction 'mean').
 * Tensor functions: call inside tf.tidy / tf.variableGrads.
 */
import * as tf from '@tensorflow/tfjs';

/** Class indices [B] -> one-hot [B, K] (float32), with a clear error for out-of-range labels. */
export function oneHot(labels: ArrayLike<number>, numClasses: number): Float32Array {
  const out = new Float32Array(labels.length * numClasses);
  for (let b = 0; b < labels.length; b++) {
    const y = labels[b];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new Error(`label ${y} at batch index ${b} is not a class in [0, ${numClasses})`);
    out[b * numClasses + y] = 1;
  }
  return out;
}

/** F.cross_entropy(logits, labels).mean(): logits [B, K], labels [B] class indices. */
export function crossEntropy(logits: tf.Tensor, labels: ArrayLike<number>): tf.Scalar {
  const [B, K] = logits.shape;
  if (labels.length !== B) throw new Error(`crossEntropy: ${labels.length} labels for a batch of ${B}`);
  return softCrossEntropy(logits, tf.tensor2d(oneHot(labels, K), [B, K]));
}

/** mmpretrain soft_cross_entropy: mean_b Σ_k −target[b, k] · log_softmax(logits)[b, k]. target [B, K]. */
export function softCrossEntropy(logits: tf.Tensor, target: tf.Tensor): tf.Scalar {
  if (logits.shape.join() !== target.shape.join()) {
    throw new Error(`softCrossEntropy: logits [${logits.shape}] and target [${target.shape}] differ in shape`);
  }
  return tf.mean(tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(logits, -1)), -1))) as tf.Scalar;
}

export type LabelSmoothMode = 'original' | 'classy_vision';

export interface LabelSmoothOpts {
  /** label_smooth_val ε in [0, 1). Default 0.1. */
  smooth?: number;
  /** 'original': (1−ε)·y + ε/K.  'classy_vision': the same with ε' = ε/(1+ε). Default 'original'. */
  mode?: LabelSmoothMode;
}

/** The ε actually used by original_smooth_label (validated). */
function smoothEps(opts: LabelSmoothOpts): number {
  const { smooth = 0.1, mode = 'original' } = opts;
  if (!(smooth >= 0 && smooth < 1)) throw new Error(`label_smooth_val must be in [0, 1), got ${smooth}`);
  if (mode !== 'original' && mode !== 'classy_vision') throw new Error(`LabelSmoothLoss mode '${String(mode)}' is not supported (original, classy_vision)`);
  return mode === 'classy_vision' ? smooth / (1 + smooth) : smooth;
}

/** Smooth one-hot-like targets [B*K] (hard or mixed): (1−ε)·t + ε/K. Returns a new array. */
export function smoothLabels(target: ArrayLike<number>, numClasses: number, opts: LabelSmoothOpts = {}): Float32Array {
  const eps = smoothEps(opts);
  const out = new Float32Array(target.length);
  for (let i = 0; i < target.length; i++) out[i] = target[i] * (1 - eps) + eps / numClasses;
  return out;
}

/**
 * mmpretrain LabelSmoothLoss: labels are class indices [B] or one-hot-like targets [B, K] (e.g. mixed by
 * Mixup/CutMix), smoothed, then soft cross entropy with the batch mean.
 */
export function labelSmoothLoss(logits: tf.Tensor, labels: ArrayLike<number> | tf.Tensor, opts: LabelSmoothOpts = {}): tf.Scalar {
  const [B, K] = logits.shape;
  if (labels instanceof tf.Tensor) {
    const eps = smoothEps(opts);
    return softCrossEntropy(logits, tf.add(tf.mul(labels, 1 - eps), eps / K));
  }
  const target = labels.length === B ? oneHot(labels, K) : Float32Array.from(labels);
  if (target.length !== B * K) throw new Error(`labelSmoothLoss: labels have ${labels.length} values; expected ${B} indices or ${B}x${K} scores`);
  return softCrossEntropy(logits, tf.tensor2d(smoothLabels(target, K, opts), [B, K]));
}
