/**
 * Kernels the stock tfjs wasm backend lacks, in pure JS (computed with existing ops or a plain loop, the result
 * copied into a fresh wasm output): Conv2DBackpropFilter (over bands of output rows, `conv2dFilterGradBanded`) and
 * UnsortedSegmentSum (the gradient of gather). src/backend/registry.ts registers them only where the backend lacks
 * them, before the overrides (with the addon, a native Conv2DBackpropFilter then replaces the JS one and calls it
 * for the cases it does not handle).
 */
import * as tf from '@tensorflow/tfjs';
import type { Kernel, WasmBackend } from './heap.js';

/** Wrap a caller-owned kernel input as a Tensor with its own reference; dispose the wrapper when done. */
function toTensor(info: tf.TensorInfo, backend: WasmBackend): tf.Tensor {
  const t = tf.engine().makeTensorFromTensorInfo(info);
  backend.incRef(info.dataId);
  return t;
}

function emit(backend: WasmBackend, t: tf.Tensor): tf.TensorInfo {
  const values = t.dataSync() as tf.TypedArray;
  const out = backend.makeOutput(t.shape, t.dtype, undefined, values);
  return out;
}

/** Bytes of dy per band of output rows in the JS filter gradient (its transposed / packed copies scale with this). */
const FILTER_GRAD_BAND_BYTES = 32 * 2 ** 20;

/**
 * dW[kh,kw,ci,co] = Σ_{n,h,w} x_pad[n, h*s+kh*d, w*s+kw*d, ci] · dy[n,h,w,co], as one conv over the batch axis per
 * band of output rows (each band reads its input rows with the halo the taps need, zero rows where the padding is),
 * summed over the bands. Without bands the padded input, both transposed copies and the conv's packed filter (dy)
 * were each as large as x or dy (4 × 100 MB for a 3x3 conv at 2 × 128² × 768, UPerHead at 512²).
 */
export function conv2dFilterGradBanded(x: tf.Tensor4D, dy: tf.Tensor4D, conv: tf.backend_util.Conv2DInfo, bandBytes: number): tf.Tensor4D {
  return tf.tidy(() => {
    const { top, left } = conv.padInfo;
    const [kh, kw] = [conv.filterHeight, conv.filterWidth];
    const [sh, sw, dh, dw] = [conv.strideHeight, conv.strideWidth, conv.dilationHeight, conv.dilationWidth];
    const [N, H, W] = x.shape;
    const [oh, ow, co] = [conv.outHeight, conv.outWidth, conv.outChannels];
    const needW = (ow - 1) * sw + (kw - 1) * dw + 1;
    const right = Math.max(0, needW - W - left);
    const rowsPerBand = Math.max(1, Math.floor(bandBytes / (4 * N * ow * co)));
    let acc: tf.Tensor4D | null = null;
    for (let r0 = 0; r0 < oh; r0 += rowsPerBand) {
      const r1 = Math.min(oh, r0 + rowsPerBand);
      // input rows a..b (inclusive) feed output rows r0..r1-1; a band that reads padding only adds nothing
      const a = r0 * sh - top;
      const b = (r1 - 1) * sh - top + (kh - 1) * dh;
      const lo = Math.max(0, a);
      const hi = Math.min(H - 1, b);
      if (hi < lo) continue;
      const part = tf.tidy(() => {
        let xp = tf.slice(x, [0, lo, 0, 0], [-1, hi - lo + 1, -1, -1]);
        xp = tf.pad(xp, [[0, 0], [lo - a, b - hi], [left, right], [0, 0]]);
        xp = tf.slice(xp, [0, 0, 0, 0], [-1, -1, needW, -1]);
        // xp: [N, h, W, Ci] -> [Ci, h, W, N]; dy band: [N, r, ow, Co] -> [r, ow, N, Co]
        const xs = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D;
        const f = tf.transpose(tf.slice(dy, [0, r0, 0, 0], [-1, r1 - r0, -1, -1]), [1, 2, 0, 3]) as tf.Tensor4D;
        // Filter taps are spaced by the stride, output positions by the dilation.
        const r = sh === 1 && sw === 1 ? tf.conv2d(xs, f, [dh, dw], 'valid') : tf.conv2d(xs, f, [dh, dw], 'valid', 'NHWC', [sh, sw]);
        return tf.slice(r, [0, 0, 0, 0], [-1, kh, kw, -1]) as tf.Tensor4D; // [Ci, kh, kw, Co]
      });
      const prev: tf.Tensor4D | null = acc;
      acc = prev ? (tf.add(prev, part) as tf.Tensor4D) : part;
      if (prev) tf.dispose([prev, part]);
    }
    // [Ci, kh, kw, Co] -> [kh, kw, Ci, Co]
    return acc ? tf.transpose(acc, [1, 2, 0, 3]) : tf.zeros([kh, kw, x.shape[3], co]);
  });
}

/** Conv2DBackpropFilter, NHWC: dW[kh,kw,ci,co] = Σ_{n,h,w} x_pad[n, h*s+kh*d, w*s+kw*d, ci] · dy[n,h,w,co]. */
export const conv2dBackpropFilterKernel: Kernel = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as {
    strides: number | [number, number];
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
    dilations?: number | [number, number];
  };
  if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (wasm, JS): NCHW not supported');
  const xt = toTensor(x, backend) as tf.Tensor4D;
  const dyt = toTensor(dy, backend) as tf.Tensor4D;
  const conv = tf.backend_util.computeConv2DInfo(
    xt.shape, a.filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false, 'channelsLast',
  );
  const result = conv2dFilterGradBanded(xt, dyt, conv, FILTER_GRAD_BAND_BYTES);
  const out = emit(backend, result);
  tf.dispose([result, xt, dyt]);
  return out;
};

/** UnsortedSegmentSum: out[s, ...] = Σ_i [segmentIds[i] == s] · x[i, ...]   (the gradient of gather) */
export const unsortedSegmentSumKernel: Kernel = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  // A plain accumulation loop: O(n · prod(rest)) time and no [n, numSegments] one-hot (which explodes for
  // the gather in the CE loss, n = B·H·W and numSegments = B·H·W·K, or the relative-position bias).
  const xt = toTensor(x, backend);
  const ids = toTensor(segmentIds, backend);
  const xv = xt.dataSync();
  const iv = ids.dataSync();
  const n = ids.size;
  const rest = xt.shape.slice(ids.rank);
  const inner = rest.reduce((a, b) => a * b, 1);
  const acc = xt.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < n; i++) {
    const s = iv[i];
    if (s < 0 || s >= numSegments) continue; // TF drops out-of-range ids
    const src = i * inner;
    const dst = s * inner;
    for (let k = 0; k < inner; k++) acc[dst + k] += xv[src + k];
  }
  tf.dispose([xt, ids]);
  const out = backend.makeOutput([numSegments, ...rest], xt.dtype, undefined, acc);
  return out;
};
