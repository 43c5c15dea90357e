/**
 * Resizing with PyTorch semantics, NHWC.
 * Bilinear = F.interpolate(mode='bilinear', align_corners=False) with an explicit size:
 *   s = (d + 0.5)·in/out − 0.5, clamped below at 0; i0 = floor(s), i1 = min(i0 + 1, in − 1); no antialiasing.
 * That is tfjs resizeBilinear(x, size, alignCorners=false, halfPixelCenters=true) (checked against mmseg's
 * outputs in test/golden/seg-upernet.test.ts). Nearest (labels) = cv2 INTER_NEAREST: src = min(floor(d·in/out), in−1).
 */
import * as tf from '@tensorflow/tfjs';

/** x [B, H, W, C] -> [B, oh, ow, C]; identity (same tensor) when the size already matches. */
export function resizeBilinear(x: tf.Tensor4D, size: [number, number]): tf.Tensor4D {
  const [, H, W] = x.shape;
  if (H === size[0] && W === size[1]) return x;
  return tf.image.resizeBilinear(x, size, false, true);
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
