/**
 * mmseg decode-head loss (BaseDecodeHead.loss_by_feat + CrossEntropyLoss, avg_non_ignore=False) and accuracy:
 *   logits are resized bilinearly (align_corners=False) to the label size first;
 *   loss = w · Σ_valid −log softmax(z)[y] / (B·H·W)   (ignored pixels count in the denominator);
 *   acc_seg = 100 · #(argmax = y, valid) / #valid     (first maximum wins on ties).
 */
import * as tf from '@tensorflow/tfjs';
import { resizeBilinear } from '../../nn/resize.js';

export interface SegLossOut {
  /** Scalar, already multiplied by the loss weight. */
  loss: tf.Scalar;
  /** Scalar percent over non-ignored pixels (NaN when every pixel is ignored, as mmseg's 100/0·0). */
  acc: tf.Scalar;
}

/** logits [B, h, w, K] (NHWC), labels int32 [B, H, W] -> {loss, acc}. */
export function segLoss(logits: tf.Tensor4D, labels: tf.Tensor3D, o: { weight: number; ignoreIndex: number }): SegLossOut {
  const [B, H, W] = labels.shape;
  const K = logits.shape[3];
  if (logits.shape[0] !== B) throw new Error(`seg loss: logits batch ${logits.shape[0]} != labels batch ${B}`);
  if (labels.dtype !== 'int32') throw new Error(`seg loss: labels must be int32, got ${labels.dtype}`);
  const M = B * H * W;
  const up = resizeBilinear(logits, [H, W]); // [B, H, W, K]
  const logp = tf.logSoftmax(tf.reshape(up, [M, K])); // [M, K]
  const y = tf.reshape(labels, [M]);
  const valid = tf.notEqual(y, tf.scalar(o.ignoreIndex, 'int32')); // [M] bool
  const safe = tf.where(valid, y, tf.zerosLike(y));
  // Gather log p[m, y_m] from the flat [M·K] vector: index m·K + y_m (memory O(M), unlike a one-hot).
  const flatIdx = tf.add(tf.mul(tf.range(0, M, 1, 'int32'), tf.scalar(K, 'int32')), safe);
  const picked = tf.gather(tf.reshape(logp, [M * K]), flatIdx); // [M]
  const validF = tf.cast(valid, 'float32');
  const loss = tf.mul(tf.div(tf.neg(tf.sum(tf.mul(picked, validF))), M), o.weight) as tf.Scalar;
  const pred = tf.argMax(tf.reshape(up, [M, K]), 1); // [M] int32
  const correct = tf.sum(tf.mul(tf.cast(tf.equal(pred, y), 'float32'), validF));
  const acc = tf.div(tf.mul(correct, 100), tf.sum(validF)) as tf.Scalar;
  return { loss, acc };
}

/** Throws if a label is neither in [0, K) nor the ignore index (PyTorch would fail with "Target out of bounds"). */
export function checkLabels(labels: Int32Array | Uint8Array, numClasses: number, ignoreIndex: number, where = 'labels'): void {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v !== ignoreIndex && (v < 0 || v >= numClasses)) {
      throw new Error(`${where}: value ${v} at flat index ${i} is not a class in [0, ${numClasses}) nor the ignore index ${ignoreIndex}`);
    }
  }
}
