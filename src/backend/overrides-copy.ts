/**
 * Replacements of stock tfjs wasm kernels that move or share data: Identity and same-dtype Cast (share the buffer),
 * Transpose, Unpack (axis 0), GatherV2, SplitV, Slice and Concat (block copies inside the wasm heap, where the stock
 * Slice and Concat first copy every input out of the heap; Transpose calls the addon for strided cases when it is
 * loaded), and the gradient of Tile as one reshape + sum. Each factory gets the stock kernel and calls it for anything
 * it does not handle. Registered by src/backend/registry.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { f32, i32, is4Byte, off, share, size, type Gradient, type Kernel, type WasmBackend } from './heap.js';
import { loadNative } from './native.js';

/** Drop trivial axes and merge axes that stay adjacent under perm. */
function collapse(shape: number[], perm: number[]): { shape: number[]; perm: number[] } {
  const keep = perm.filter((p) => shape[p] !== 1);
  // merge runs p, p+1 that are consecutive in the output too
  const groups: number[][] = [];
  for (const p of keep) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1] + 1 === p) g.push(p);
    else groups.push([p]);
  }
  const order = [...groups].sort((a, b) => a[0] - b[0]);
  const newShape = order.map((g) => g.reduce((a, p) => a * shape[p], 1));
  const newPerm = groups.map((g) => order.indexOf(g));
  return { shape: newShape, perm: newPerm };
}

/** Transpose 4-byte elements inside the heap: native when available, else JS (block copies when rows stay contiguous). */
export function transposeHeap(b: WasmBackend, inOff: number, outOff: number, shape0: number[], perm0: number[]): void {
  const { shape, perm } = collapse(shape0, perm0);
  const r = shape.length;
  const total = size(shape);
  if (total === 0) return;
  const heap = f32(b);
  if (r <= 1) {
    heap.copyWithin(outOff, inOff, inOff + total);
    return;
  }
  const nat = loadNative();
  if (nat) {
    nat.transpose(heap, inOff, outOff, Int32Array.from(shape), Int32Array.from(perm));
    return;
  }
  const istr = new Array<number>(r);
  for (let d = r - 1, s = 1; d >= 0; d--) {
    istr[d] = s;
    s *= shape[d];
  }
  const oshape = perm.map((p) => shape[p]);
  const ostr = perm.map((p) => istr[p]);
  const inner = oshape[r - 1];
  const step = ostr[r - 1];
  const rows = total / inner;
  const idx = new Array<number>(r - 1).fill(0);
  let base = 0;
  const h = new Int32Array(heap.buffer); // bit copies: int32 and float32 alike
  for (let row = 0, o = outOff; row < rows; row++, o += inner) {
    const src = inOff + base;
    if (step === 1) h.copyWithin(o, src, src + inner);
    else for (let j = 0, p = src; j < inner; j++, p += step) h[o + j] = h[p];
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      base += ostr[d];
      if (idx[d] < oshape[d]) break;
      base -= ostr[d] * oshape[d];
      idx[d] = 0;
    }
  }
}

export function transposeKernel(orig: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs;
    const perm = (args.attrs.perm as number[]).map((p) => (p < 0 ? p + x.shape.length : p));
    if (!is4Byte(x.dtype) || perm.length !== x.shape.length) return orig(args);
    const b = args.backend;
    const outShape = perm.map((p) => x.shape[p]);
    if (perm.every((p, i) => p === i)) return share(b, x);
    const out = b.makeOutput(outShape, x.dtype);
    transposeHeap(b, off(b, x), off(b, out), x.shape, perm);
    return out;
  };
}

/** SplitV: block copies per outer row (the stock wasm kernel goes through a generic strided slice per output). */
export function splitVKernel(orig: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs;
    if (!is4Byte(x.dtype) || x.shape.length === 0) return orig(args);
    let axis: number;
    let sizes: number[];
    try {
      axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
      sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, args.attrs.numOrSizeSplits as number | number[], axis);
    } catch {
      return orig(args);
    }
    const be = args.backend;
    const outer = size(x.shape.slice(0, axis));
    const inner = size(x.shape.slice(axis + 1));
    const rowLen = x.shape[axis] * inner;
    const x0 = off(be, x);
    const outs: tf.TensorInfo[] = [];
    let start = 0;
    for (const s of sizes) {
      const shape = [...x.shape];
      shape[axis] = s;
      const o = be.makeOutput(shape, x.dtype);
      const hh = i32(be); // bit copies; after makeOutput (it may grow the heap)
      const o0 = off(be, o);
      const len = s * inner;
      if (outer === 1) hh.copyWithin(o0, x0 + start * inner, x0 + start * inner + len);
      else for (let r = 0; r < outer; r++) hh.copyWithin(o0 + r * len, x0 + r * rowLen + start * inner, x0 + r * rowLen + start * inner + len);
      outs.push(o);
      start += s;
    }
    return outs;
  };
}

export function identityKernel(orig: Kernel): Kernel {
  return (args) => (args.inputs.x.dtype === 'string' ? orig(args) : share(args.backend, args.inputs.x));
}

export function castKernel(orig: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs;
    return x.dtype === args.attrs.dtype && x.dtype !== 'string' ? share(args.backend, x) : orig(args);
  };
}

/** Unpack along axis 0: each output is one contiguous block. */
export function unpackKernel(orig: Kernel): Kernel {
  return (args) => {
    const { value } = args.inputs;
    const axis = args.attrs.axis as number;
    if (!is4Byte(value.dtype) || !(axis === 0 || axis === -value.shape.length) || value.shape.length < 1) return orig(args);
    const be = args.backend;
    const n = value.shape[0];
    const rest = value.shape.slice(1);
    const inner = size(rest);
    const outs = Array.from({ length: n }, () => be.makeOutput([...rest], value.dtype));
    const heap = i32(be); // after every makeOutput
    const src = off(be, value);
    outs.forEach((o, i) => heap.copyWithin(off(be, o), src + i * inner, src + (i + 1) * inner));
    return outs;
  };
}

/** GatherV2 as block copies; out-of-range indices go to the stock kernel (which raises tfjs's error). */
export function gatherKernel(orig: Kernel): Kernel {
  return (args) => {
    const { x, indices } = args.inputs;
    if (!is4Byte(x.dtype) || indices.dtype !== 'int32') return orig(args);
    const be = args.backend;
    const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
    const batchDims = (args.attrs.batchDims as number) ?? 0;
    let info: ReturnType<typeof tf.backend_util.segment_util.collectGatherOpShapeInfo>;
    try {
      // shape-only use: plain objects, so no tensor is created
      info = tf.backend_util.segment_util.collectGatherOpShapeInfo({ shape: x.shape } as never, { shape: indices.shape } as never, axis, batchDims);
    } catch {
      return orig(args);
    }
    const nAll = size(indices.shape);
    const dimSize = info.dimSize;
    {
      // range check before allocating; this view must not outlive the allocation below (see i32 above)
      const idx = i32(be).subarray(off(be, indices), off(be, indices) + nAll);
      for (let i = 0; i < nAll; i++) if (idx[i] < 0 || idx[i] >= dimSize) return orig(args);
    }
    const out = be.makeOutput(info.outputShape, x.dtype);
    const nIdx = nAll / info.batchSize;
    const slice = info.sliceSize;
    const heap = i32(be); // after makeOutput: it may have grown (and detached) the heap
    const idxNow = heap.subarray(off(be, indices), off(be, indices) + nAll);
    const xs = off(be, x);
    let o = off(be, out);
    for (let bt = 0; bt < info.batchSize; bt++) {
      for (let ou = 0; ou < info.outerSize; ou++) {
        const base = xs + (bt * info.outerSize + ou) * dimSize * slice;
        for (let i = 0; i < nIdx; i++, o += slice) {
          const s = base + idxNow[bt * nIdx + i] * slice;
          if (slice <= 16) for (let j = 0; j < slice; j++) heap[o + j] = heap[s + j]; // small rows: copyWithin's call cost dominates
          else heap.copyWithin(o, s, s + slice);
        }
      }
    }
    return out;
  };
}

/** Gradient of Tile as one reshape + sum (dy viewed as [r0, d0, r1, d1, ...], summed over the r axes). */
export const tileGradient: Gradient = {
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [x] = saved;
    const reps = attrs.reps as number[];
    return {
      x: () => {
        const g = dy as tf.Tensor;
        const inter: number[] = [];
        const axes: number[] = [];
        x.shape.forEach((d, i) => {
          axes.push(inter.length);
          inter.push(reps[i], d);
        });
        return tf.reshape(tf.sum(tf.reshape(g, inter), axes), x.shape);
      },
    };
  },
};

/**
 * Slice as block copies inside the heap. The stock wasm kernel reads the whole input out of the heap (`readSync`, a
 * fresh JS copy of every element) before copying the slice: slicing one element of a 1024² tensor took 14 ms.
 */
export function sliceKernel(orig: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs;
    if (!is4Byte(x.dtype)) return orig(args);
    const [begin, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, args.attrs.begin as number[], args.attrs.size as number[]);
    const be = args.backend;
    const shape = x.shape;
    const r = shape.length;
    if (r === 0) return share(be, x);
    const out = be.makeOutput(sz, x.dtype);
    const n = size(sz);
    if (n === 0) return out;
    // the innermost axes the slice takes whole, plus the first partial one, form one contiguous block
    let d = r - 1;
    let block = sz[d];
    while (d > 0 && sz[d] === shape[d]) {
      d--;
      block *= sz[d];
    }
    const strides = tf.util.computeStrides(shape); // element strides of x, length r-1
    const stride = (a: number) => (a === r - 1 ? 1 : strides[a]);
    const heap = i32(be); // after makeOutput
    const src = off(be, x);
    let dst = off(be, out);
    // odometer over axes 0..d-1
    const idx = new Array<number>(d).fill(0);
    let base = src;
    for (let a = 0; a <= d; a++) base += begin[a] * stride(a);
    for (let done = 0; done < n; done += block) {
      heap.copyWithin(dst, base, base + block);
      dst += block;
      for (let a = d - 1; a >= 0; a--) {
        idx[a]++;
        base += stride(a);
        if (idx[a] < sz[a]) break;
        base -= sz[a] * stride(a);
        idx[a] = 0;
      }
    }
    return out;
  };
}

/** Concat as block copies inside the heap (the stock wasm kernel reads every input out of the heap first). */
export function concatKernel(orig: Kernel): Kernel {
  return (args) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    if (inputs.length === 0 || !inputs.every((t) => is4Byte(t.dtype) && t.dtype === inputs[0].dtype)) return orig(args);
    const axis = tf.util.parseAxisParam(args.attrs.axis as number, inputs[0].shape)[0];
    let outShape: number[];
    try {
      tf.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), axis);
      outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), axis);
    } catch {
      return orig(args); // tfjs raises its own error
    }
    const parts = inputs.filter((t) => size(t.shape) > 0);
    const be = args.backend;
    if (parts.length === 1) return share(be, parts[0]);
    const out = be.makeOutput(outShape, inputs[0].dtype);
    if (parts.length === 0) return out;
    const outer = size(outShape.slice(0, axis));
    const inner = parts.map((t) => size(t.shape.slice(axis)));
    const total = inner.reduce((a, c) => a + c, 0);
    const heap = i32(be); // after makeOutput
    const o0 = off(be, out);
    const nat = loadNative();
    if (nat && outer > 1) {
      // one native call for all rows (row copies of a few hundred bytes cost ~0.1 µs each through copyWithin)
      nat.concatRows(heap, o0, total, outer, Int32Array.from(parts, (t) => off(be, t)), Int32Array.from(inner));
      return out;
    }
    let col = 0;
    parts.forEach((t, p) => {
      const s0 = off(be, t);
      const w = inner[p];
      for (let i = 0; i < outer; i++) heap.copyWithin(o0 + i * total + col, s0 + i * w, s0 + (i + 1) * w);
      col += w;
    });
    return out;
  };
}
