/**
 * Replacements of the stock tfjs wasm convolutions, with the addon only: Conv2D, Conv2DBackpropInput,
 * Conv2DBackpropFilter (NHWC; stride 1 as one GEMM per filter tap, else im2col + GEMM) and FusedConv2D (bias + ReLU
 * in the same call). Each factory gets the stock kernel and calls it for anything it does not handle (NCHW, other
 * dtypes or activations). Registered by src/backend/registry.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { f32, off, type Kernel } from './heap.js';
import type { NativeAddon } from './native.js';

type ConvAttrs = {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

function convDims(xShape: number[], fShape: number[], a: ConvAttrs, dilations: number | [number, number]): Int32Array | null {
  if (a.dataFormat === 'NCHW') return null;
  const c = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], fShape as [number, number, number, number], a.strides, dilations, a.pad, a.dimRoundingMode, false, 'channelsLast',
  );
  if (c.inChannels !== fShape[2]) return null;
  return Int32Array.of(
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.outChannels, c.filterHeight, c.filterWidth, c.strideHeight, c.strideWidth,
    c.dilationHeight, c.dilationWidth, c.padInfo.top, c.padInfo.left, c.outHeight, c.outWidth,
  );
}

export function convKernel(orig: Kernel, nat: NativeAddon, mode: 0 | 1 | 2): Kernel {
  return (args) => {
    const be = args.backend;
    const a = args.attrs as unknown as ConvAttrs & { inputShape?: number[]; filterShape?: number[] };
    const ins = args.inputs;
    const ts = Object.values(ins);
    if (ts.some((t) => t.dtype !== 'float32')) return orig(args);
    let dims: Int32Array | null;
    try {
      if (mode === 0) dims = convDims(ins.x.shape, ins.filter.shape, a, a.dilations ?? 1);
      else if (mode === 1) dims = convDims(a.inputShape!, ins.filter.shape, a, 1);
      else dims = convDims(ins.x.shape, a.filterShape!, a, 1);
    } catch {
      return orig(args); // tfjs raises its own error for bad attrs
    }
    if (!dims) return orig(args);
    const [N, , , , Co] = dims;
    const OH = dims[13];
    const OW = dims[14];
    if (mode === 0) {
      const out = be.makeOutput([N, OH, OW, Co], 'float32');
      nat.conv2d(f32(be), 0, off(be, ins.x), off(be, ins.filter), off(be, out), dims);
      return out;
    }
    if (mode === 1) {
      const dy = ins.dy;
      if (dy.shape[1] !== OH || dy.shape[2] !== OW || dy.shape[3] !== Co) return orig(args);
      const out = be.makeOutput([...a.inputShape!], 'float32');
      nat.conv2d(f32(be), 1, off(be, out), off(be, ins.filter), off(be, dy), dims);
      return out;
    }
    const dy = ins.dy;
    if (dy.shape[1] !== OH || dy.shape[2] !== OW || dy.shape[3] !== Co) return orig(args);
    const out = be.makeOutput([...a.filterShape!], 'float32');
    nat.conv2d(f32(be), 2, off(be, ins.x), off(be, out), off(be, dy), dims);
    return out;
  };
}

/**
 * FusedConv2D (tf.fused.conv2d) with activation 'linear' or 'relu' and an optional [Co] bias: the native conv with the
 * bias + ReLU applied in the same call (no separate Add / Relu passes over the output). Other activations, prelu
 * weights, broadcast biases and NCHW go to the original kernel.
 */
export function fusedConvKernel(orig: Kernel, nat: NativeAddon): Kernel {
  return (args) => {
    const be = args.backend;
    const a = args.attrs as unknown as ConvAttrs & { activation?: string };
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const act = a.activation ?? 'linear';
    if ((act !== 'linear' && act !== 'relu') || preluActivationWeights || x.dtype !== 'float32' || filter.dtype !== 'float32') return orig(args);
    let dims: Int32Array | null;
    try {
      dims = convDims(x.shape, filter.shape, a, a.dilations ?? 1);
    } catch {
      return orig(args);
    }
    if (!dims) return orig(args);
    const [N, , , , Co] = dims;
    if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== Co)) return orig(args);
    const flags = (bias ? 1 : 0) | (act === 'relu' ? 2 : 0);
    const out = be.makeOutput([N, dims[13], dims[14], Co], 'float32');
    const d16 = new Int32Array(16);
    d16.set(dims);
    d16[15] = flags;
    nat.conv2d(f32(be), 0, off(be, x), off(be, filter), off(be, out), d16, bias ? off(be, bias) : 0);
    return out;
  };
}
