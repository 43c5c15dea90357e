/**
 * mmseg decode-head loss (BaseDecodeHead.loss_by_feat + CrossEntropyLoss, avg_non_ignore=False) and accuracy:
 *   logits are resized bilinearly (align_corners=False) to the label size first;
 *   loss = w · Σ_valid −log softmax(z)[y] / (B·H·W)   (ignored pixels count in the denominator);
 *   acc_seg = 100 · #(argmax = y, valid) / #valid     (first maximum wins on ties).
 */
import * as tf from '@tensorflow/tfjs';
import { bilinearMatrix, separable } from '../../nn/resize.js';
import { segCrossEntropy, segCrossEntropyGrad } from '../../backend/fused.js';

export interface SegLossOut {
  /** Scalar, already multiplied by the loss weight. */
  loss: tf.Scalar;
  /** Scalar percent over non-ignored pixels (NaN when every pixel is ignored, as mmseg's 100/0·0). */
  acc: tf.Scalar;
}

/** Elements of one band of upsampled logits [B, rows, W, K] (8 M floats = 32 MB). */
const BAND_ELEMS = 1 << 23;

/**
 * logits [B, h, w, K] (NHWC), labels int32 [B, H, W] -> {loss, acc}.
 * Memory: the upsampled logits [B, H, W, K] (315 MB for 2 × 512² × 150 classes, and the log-softmax, softmax and
 * gradient of the same size on the tape) are never held whole. One custom-gradient op walks bands of output rows:
 * forward = Σ_band loss terms (the band upsampled with the bilinear matrices, y_band = Mh[band] · x · Mwᵀ);
 * backward recomputes each band and adds its adjoint, dx += Mh[band]ᵀ · (softmax − onehot)·valid·w/M · Mw. Only
 * `logits` and `labels` are kept for the backward. `bandElems` sets the band size (tests use tiny bands). With the
 * native engine each band's softmax terms are one kernel each way (segCrossEntropy / segCrossEntropyGrad in
 * src/backend/fused.ts), else composed from stock ops below.
 */
export function segLoss(logits: tf.Tensor4D, labels: tf.Tensor3D, o: { weight: number; ignoreIndex: number; bandElems?: number }): SegLossOut {
  const [B, H, W] = labels.shape;
  const [, h, w, K] = logits.shape;
  if (logits.shape[0] !== B) throw new Error(`seg loss: logits batch ${logits.shape[0]} != labels batch ${B}`);
  if (labels.dtype !== 'int32') throw new Error(`seg loss: labels must be int32, got ${labels.dtype}`);
  const M = B * H * W;
  const rows = Math.max(1, Math.min(H, Math.floor((o.bandElems ?? BAND_ELEMS) / (B * W * K))));
  const bands: Array<[number, number]> = [];
  for (let r0 = 0; r0 < H; r0 += rows) bands.push([r0, Math.min(rows, H - r0)]);
  const same = h === H && w === W;
  const mh = same ? null : bilinearMatrix(h, H); // [H, h]
  const mwArr = same ? null : bilinearMatrix(w, W); // [W, w]
  const mhBand = (r0: number, rb: number) => tf.tensor2d(mh!.subarray(r0 * h, (r0 + rb) * h), [rb, h]);
  /** The band of output rows [r0, r0 + rb) of the upsampled logits: [B, rb, W, K]. */
  const up = (x: tf.Tensor4D, r0: number, rb: number): tf.Tensor4D =>
    same ? tf.slice(x, [0, r0, 0, 0], [B, rb, W, K]) : separable(x, mhBand(r0, rb), tf.tensor2d(mwArr!, [W, w]));
  /** Labels of the band, flat [B·rb·W]. */
  const bandLabelsRaw = (r0: number, rb: number) => tf.reshape(tf.slice(labels, [0, r0, 0], [B, rb, W]), [B * rb * W]) as tf.Tensor1D;
  /** The same with the validity mask and ignore replaced by 0. */
  const bandLabels = (r0: number, rb: number) => {
    const y = bandLabelsRaw(r0, rb);
    const valid = tf.notEqual(y, tf.scalar(o.ignoreIndex, 'int32'));
    return { y, valid, validF: tf.cast(valid, 'float32'), safe: tf.where(valid, y, tf.zerosLike(y)) };
  };
  let acc: tf.Scalar | null = null;
  const f = tf.customGrad((...args) => {
    const [x, save] = args as unknown as [tf.Tensor4D, tf.GradSaveFunc];
    save([x]); // the caller's scope disposes x before the backward runs
    let nll = tf.scalar(0) as tf.Tensor;
    let correct = tf.scalar(0) as tf.Tensor;
    let nValid = tf.scalar(0) as tf.Tensor;
    for (const [r0, rb] of bands) {
      const part = tf.tidy(() => {
        const m = B * rb * W;
        const z = tf.reshape(up(x, r0, rb), [m, K]) as tf.Tensor2D; // [B, rb, W, K] -> [m, K]
        // one native pass when available: the three sums at once
        const sums = segCrossEntropy(z, bandLabelsRaw(r0, rb), o.ignoreIndex);
        if (sums) {
          const s3 = tf.unstack(sums); // [3] -> three scalars
          return [nll, correct, nValid].map((t, j) => tf.add(t, s3[j])) as tf.Tensor[];
        }
        const { y, validF, safe } = bandLabels(r0, rb);
        // log p[i, y_i] from the flat [m·K] vector at i·K + y_i (memory O(m), unlike a one-hot)
        const flatIdx = tf.add(tf.mul(tf.range(0, m, 1, 'int32'), tf.scalar(K, 'int32')), safe);
        const picked = tf.gather(tf.reshape(tf.logSoftmax(z), [m * K]), flatIdx); // [m]
        const hit = tf.cast(tf.equal(tf.argMax(z, 1), y), 'float32'); // first maximum wins on ties
        return [tf.add(nll, tf.sum(tf.mul(picked, validF))), tf.add(correct, tf.sum(tf.mul(hit, validF))), tf.add(nValid, tf.sum(validF))] as tf.Tensor[];
      });
      tf.dispose([nll, correct, nValid]);
      [nll, correct, nValid] = part;
    }
    acc = tf.keep(tf.div(tf.mul(correct, 100), nValid)) as tf.Scalar;
    const value = tf.mul(tf.div(tf.neg(nll), M), o.weight) as tf.Scalar;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const xs = saved[0] as tf.Tensor4D;
        const scale = tf.mul(dy, o.weight / M); // d loss / d logp[y] = -w/M, so d/dz = (softmax - onehot)·w/M
        const parts: tf.Tensor4D[] = [];
        let dx: tf.Tensor | null = null;
        for (const [r0, rb] of bands) {
          const d = tf.tidy(() => {
            const m = B * rb * W;
            const z = tf.reshape(up(xs, r0, rb), [m, K]) as tf.Tensor2D;
            const g =
              segCrossEntropyGrad(z, bandLabelsRaw(r0, rb), o.ignoreIndex, scale) ??
              tf.tidy(() => {
                const { validF, safe } = bandLabels(r0, rb);
                return tf.mul(tf.mul(tf.sub(tf.softmax(z), tf.cast(tf.oneHot(safe, K), 'float32')), tf.expandDims(validF, 1)), scale);
              });
            const gb = tf.reshape(g, [B, rb, W, K]) as tf.Tensor4D; // [m, K] -> [B, rb, W, K]
            if (same) return gb;
            // adjoint of the band's upsampling, dx = Mh[band]ᵀ · g · Mw, narrowing W -> w first so nothing larger
            // than the band is formed: [B, rb, W, K] -> [W, B·rb·K] -> Mwᵀ· -> [w, B, rb, K]
            const a = tf.matMul(tf.transpose(tf.tensor2d(mwArr!, [W, w])), tf.reshape(tf.transpose(gb, [2, 0, 1, 3]), [W, B * rb * K]));
            // [w, B, rb, K] -> [rb, B, w, K] -> [rb, B·w·K] -> Mh[band]ᵀ· -> [h, B, w, K] -> [B, h, w, K]
            const t = tf.reshape(tf.transpose(tf.reshape(a, [w, B, rb, K]), [2, 1, 0, 3]), [rb, B * w * K]);
            return tf.transpose(tf.reshape(tf.matMul(tf.transpose(mhBand(r0, rb)), t), [h, B, w, K]), [1, 0, 2, 3]) as tf.Tensor4D;
          });
          if (same) parts.push(d);
          else {
            const next: tf.Tensor = dx ? tf.add(dx, d) : d;
            if (dx) tf.dispose([dx, d]);
            dx = next;
          }
        }
        return same ? tf.concat(parts, 1) : (dx as unknown as tf.Tensor);
      });
    return { value, gradFunc };
  });
  try {
    const loss = f(logits) as tf.Scalar;
    return { loss, acc: acc! };
  } catch (e) {
    if (acc) (acc as tf.Scalar).dispose();
    throw e;
  }
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
