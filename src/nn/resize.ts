/**
 * Resizing with PyTorch semantics, NHWC.
 * Bilinear = F.interpolate(mode='bilinear', align_corners=False) with an explicit size:
 *   s = (d + 0.5)·in/out − 0.5, clamped below at 0; i0 = floor(s), i1 = min(i0 + 1, in − 1); no antialiasing.
 * The forward is tfjs resizeBilinear(x, size, alignCorners=false, halfPixelCenters=true) (checked against mmseg's
 * outputs in test/golden/seg-upernet.test.ts). Its gradient is NOT tfjs's: the ResizeBilinearGrad kernels (cpu and
 * wasm, tfjs 4.22) ignore halfPixelCenters and return a wrong dx. The op is linear, y = Mh · x · Mwᵀ per channel, so
 * the gradient is the adjoint dx = Mhᵀ · dy · Mw, computed with two 2-D matmuls.
 * Nearest (labels) = cv2 INTER_NEAREST: src = min(floor(d·in/out), in−1).
 */
import * as tf from '@tensorflow/tfjs';

/** The [out, in] interpolation matrix of PyTorch bilinear, align_corners=False, along one axis. */
export function bilinearMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let d = 0; d < outSize; d++) {
    const s = Math.max((d + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const lam = s - i0;
    m[d * inSize + i0] += 1 - lam;
    m[d * inSize + i1] += lam;
  }
  return m;
}

/** y[b, i, j, c] = Σ_{h, w} mh[i, h] · mw[j, w] · x[b, h, w, c]; mh [oh, H], mw [ow, W]. */
export function separable(x: tf.Tensor4D, mh: tf.Tensor2D, mw: tf.Tensor2D): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const oh = mh.shape[0];
  const ow = mw.shape[0];
  // [B, H, W, C] -> [H, B*W*C] -> mh· -> [oh, B, W, C]
  const a = tf.reshape(tf.matMul(mh, tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [H, B * W * C])), [oh, B, W, C]);
  // [oh, B, W, C] -> [W, B*oh*C]... as [W, B, oh, C] -> mw· -> [ow, B, oh, C] -> [B, oh, ow, C]
  const b = tf.reshape(tf.matMul(mw, tf.reshape(tf.transpose(a, [2, 1, 0, 3]), [W, B * oh * C])), [ow, B, oh, C]);
  return tf.transpose(b, [1, 2, 0, 3]) as tf.Tensor4D;
}

/** x [B, H, W, C] -> [B, oh, ow, C]; identity (same tensor) when the size already matches. */
export function resizeBilinear(x: tf.Tensor4D, size: [number, number]): tf.Tensor4D {
  const [, H, W] = x.shape;
  const [oh, ow] = size;
  if (H === oh && W === ow) return x;
  const f = tf.customGrad<tf.Tensor4D>((...args) => {
    const inp = args[0] as tf.Tensor4D;
    const value = tf.image.resizeBilinear(inp, size, false, true);
    const gradFunc = (dy: tf.Tensor4D) =>
      tf.tidy(() => {
        const mhT = tf.transpose(tf.tensor2d(bilinearMatrix(H, oh), [oh, H])) as tf.Tensor2D; // [H, oh]
        const mwT = tf.transpose(tf.tensor2d(bilinearMatrix(W, ow), [ow, W])) as tf.Tensor2D; // [W, ow]
        return separable(dy, mhT, mwT);
      });
    return { value, gradFunc };
  });
  return f(x);
}

/** Nearest-neighbour resize of an NHWC tensor with the floor rule (label maps; keeps the dtype). */
export function resizeNearest(x: tf.Tensor4D, size: [number, number]): tf.Tensor4D {
  const [, H, W] = x.shape;
  if (H === size[0] && W === size[1]) return x;
  return tf.image.resizeNearestNeighbor(x, size, false, false);
}

/** Nearest-neighbour resize of a row-major [h, w] label map (cv2 INTER_NEAREST floor rule). */
export function resizeNearestLabels<T extends Uint8Array | Int32Array>(src: T, h: number, w: number, oh: number, ow: number): T {
  if (src.length !== h * w) throw new Error(`label map has ${src.length} values, expected ${h}x${w}`);
  const out = new (src.constructor as { new (n: number): T })(oh * ow);
  const sy = Int32Array.from({ length: oh }, (_, y) => Math.min(Math.floor((y * h) / oh), h - 1));
  const sx = Int32Array.from({ length: ow }, (_, x) => Math.min(Math.floor((x * w) / ow), w - 1));
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out[y * ow + x] = src[sy[y] * w + sx[x]];
  return out;
}
