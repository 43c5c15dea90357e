/**
 * Kernels the tfjs wasm backend lacks, registered from JS (computed with existing ops, result copied into a
 * fresh wasm output). Registered once, before `setBackend('wasm')`.
 */
import * as tf from '@tensorflow/tfjs';

type WasmBackend = {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.TypedArray): tf.TensorInfo;
};

let registered = false;

/** Wrap a caller-owned kernel input as a Tensor with its own reference; dispose the wrapper when done. */
function toTensor(info: tf.TensorInfo, backend: unknown): tf.Tensor {
  const t = tf.engine().makeTensorFromTensorInfo(info);
  (backend as { incRef(dataId: tf.DataId): void }).incRef(info.dataId);
  return t;
}

function emit(backend: unknown, t: tf.Tensor): tf.TensorInfo {
  const values = t.dataSync() as tf.TypedArray;
  const out = (backend as WasmBackend).makeOutput(t.shape, t.dtype, undefined, values);
  return out;
}

export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  const have = (name: string) => tf.getKernel(name, 'wasm') !== undefined;

  // dW[kh,kw,ci,co] = Σ_{n,h,w} x_pad[n, h*s+kh*d, w*s+kw*d, ci] · dy[n,h,w,co], as one conv over the batch axis.
  if (!have('Conv2DBackpropFilter')) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
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
        const result = tf.tidy(() => {
          const { top, left } = conv.padInfo;
          const [kh, kw] = [conv.filterHeight, conv.filterWidth];
          const needH = (conv.outHeight - 1) * conv.strideHeight + (kh - 1) * conv.dilationHeight + 1;
          const needW = (conv.outWidth - 1) * conv.strideWidth + (kw - 1) * conv.dilationWidth + 1;
          const bottom = Math.max(0, needH - xt.shape[1] - top);
          const right = Math.max(0, needW - xt.shape[2] - left);
          let xp = tf.pad(xt, [[0, 0], [top, bottom], [left, right], [0, 0]]);
          xp = tf.slice(xp, [0, 0, 0, 0], [-1, needH, needW, -1]);
          // xp: [N, H, W, Ci] -> [Ci, H, W, N]; dy: [N, oh, ow, Co] -> [oh, ow, N, Co]
          const xs = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D;
          const f = tf.transpose(dyt, [1, 2, 0, 3]) as tf.Tensor4D;
          // Filter taps are spaced by the stride, output positions by the dilation.
          const r = conv.strideHeight === 1 && conv.strideWidth === 1
            ? tf.conv2d(xs, f, [conv.dilationHeight, conv.dilationWidth], 'valid')
            : tf.conv2d(xs, f, [conv.dilationHeight, conv.dilationWidth], 'valid', 'NHWC', [conv.strideHeight, conv.strideWidth]);
          // r: [Ci, kh, kw, Co] -> [kh, kw, Ci, Co]
          return tf.transpose(tf.slice(r, [0, 0, 0, 0], [-1, kh, kw, -1]), [1, 2, 0, 3]);
        });
        const out = emit(backend, result);
        tf.dispose([result, xt, dyt]);
        return out;
      },
    });
  }

  // out[s, ...] = Σ_i [segmentIds[i] == s] · x[i, ...]   (the gradient of gather)
  if (!have('UnsortedSegmentSum')) {
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
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
        const out = (backend as WasmBackend).makeOutput([numSegments, ...rest], xt.dtype, undefined, acc);
        return out;
      },
    });
  }
}
