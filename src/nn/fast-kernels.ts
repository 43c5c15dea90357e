/**
 * The CPU engine: overrides of tfjs wasm kernels that are slow in the stock backend. Each override keeps the
 * original kernel's `setupFunc`, handles the cases it knows (float32 / 4-byte dtypes, the attrs tfjs passes) and
 * calls the original kernel for anything else, so semantics stay exactly tfjs's.
 *
 * - native (native/build/mff_native.node, OpenBLAS + C loops, see native/build.js): BatchMatMul (any transpose
 *   flags, batch broadcasting), Softmax, Erf, Exp, Add/Sub/Multiply/RealDiv (broadcasting), Sum (one run of
 *   consecutive axes), Conv2D / Conv2DBackpropInput / Conv2DBackpropFilter / FusedConv2D (NHWC, shifted GEMMs or im2col + GEMM; the fused one
 *   adds bias + ReLU in the same call), and the
 *   strided case of Transpose. Disabled by MFF_NATIVE=0.
 * - JS, with or without the addon: Identity / same-dtype Cast (share the buffer), Transpose and Unpack(axis 0)
 *   and GatherV2 (block copies inside the wasm heap), and a reshape+sum gradient for Tile (the stock one issues
 *   one Slice+Add per repetition). Without the addon BatchMatMul with a transpose flag transposes explicitly and
 *   then uses the fast 2-D wasm kernel.
 * - fused ops for model code, exported here: `gelu`, `layerNorm`, `attentionCore` (one native kernel forward and
 *   one backward each: MffGelu, MffLayerNorm, MffAttention) and `adamwUpdate` (MffAdamW). Without the addon or on
 *   another backend the first two compose stock ops and the last two return null (the caller composes).
 * Register before `setBackend('wasm')` (src/backend.ts does).
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Must equal MFF_NATIVE_API in native/src/mff_native.c: a stale build (older sources) is not used. */
const NATIVE_API = 9;

interface NativeAddon {
  api: number;
  gemm(heap: Float32Array, offA: Int32Array, offB: Int32Array, offC: Int32Array, M: number, N: number, K: number, transA: number, transB: number): void;
  transpose(heap: Float32Array, inOff: number, outOff: number, shape: Int32Array, perm: Int32Array): void;
  softmax(heap: Float32Array, inOff: number, outOff: number, rows: number, cols: number): void;
  /** op 0 = erf, 1 = exp */
  unary(heap: Float32Array, op: number, inOff: number, outOff: number, n: number): void;
  /** op 0 add, 1 sub, 2 mul, 3 div; strides 0 broadcast */
  binary(heap: Float32Array, op: number, aOff: number, bOff: number, outOff: number, shape: Int32Array, aStr: Int32Array, bStr: Int32Array): void;
  /** out[o, i] = sum_r x[o, r, i] */
  reduceSum(heap: Float32Array, inOff: number, outOff: number, O: number, R: number, I: number): void;
  /** mode 0: y = gelu(x); mode 1: dx = dy * gelu'(x) */
  gelu(heap: Float32Array, mode: number, xOff: number, dyOff: number, outOff: number, n: number): void;
  layerNorm(heap: Float32Array, xOff: number, wOff: number, bOff: number, yOff: number, rows: number, D: number, eps: number): void;
  layerNormGrad(heap: Float32Array, xOff: number, wOff: number, dyOff: number, dxOff: number, dwOff: number, dbOff: number, rows: number, D: number, eps: number): void;
  /** mode 0 forward (y), 1 input gradient (into x), 2 filter gradient (into w); dims see native/src/mff_native.c */
  /** dims[15] (optional, mode 0): epilogue flags, bit 0 = + bias (biasOff), bit 1 = ReLU. */
  conv2d(heap: Float32Array, mode: number, xOff: number, wOff: number, yOff: number, dims: Int32Array, biasOff?: number): void;
  adamw(heap: Float32Array, offs: Int32Array, consts: Float32Array): void;
  attention(heap: Float32Array, mode: number, offs: Int32Array, dims: Int32Array, scale: number): void;
  /** Linear layer on 2-D operands, dims [M, K, N, hasBias]: mode 0 y = x W + b (offs x, W, b, y); mode 1 dx = dy W^T
   * (offs dy, W, dx); mode 2 dW = x^T dy, db = column sums of dy (offs x, dy, dW, db) */
  linear(heap: Float32Array, mode: number, offs: Int32Array, dims: Int32Array): void;
  threads(n?: number): number;
}

interface TensorData {
  memoryOffset: number;
  refCount: number;
}

/** The parts of the tfjs wasm backend (BackendWasm) the kernels here use. */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: tf.DataId): TensorData };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.TypedArray): tf.TensorInfo;
  incRef(id: tf.DataId): void;
  readSync(id: tf.DataId): tf.TypedArray;
  disposeData(id: tf.DataId, force?: boolean): boolean;
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackend; attrs: Record<string, unknown> };
type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const require = createRequire(import.meta.url);
let native: NativeAddon | null | undefined;
let nativeError = '';
let registeredResult: { native: boolean; kernels: string[] } | null = null;

/** Path of the built addon (native/build.js). */
export function nativeAddonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', 'native', 'build', 'mff_native.node');
}

/** Load the addon once; null when MFF_NATIVE=0, not built, or failing to load. */
export function loadNative(): NativeAddon | null {
  if (native !== undefined) return native;
  native = null;
  if (process.env.MFF_NATIVE === '0') {
    nativeError = 'disabled by MFF_NATIVE=0';
    return null;
  }
  const p = nativeAddonPath();
  if (!existsSync(p)) {
    nativeError = `${p} not built (run: node native/build.js)`;
    return null;
  }
  // OpenBLAS workers spin ~2^28 cycles (~0.1 s) after each GEMM before sleeping: on 2 cores that spinning burns the
  // core the single-threaded loops between GEMMs (or other processes) need. Read once when libopenblas loads.
  if (process.env.OPENBLAS_THREAD_TIMEOUT === undefined) process.env.OPENBLAS_THREAD_TIMEOUT = '4';
  try {
    const mod = require(p) as NativeAddon;
    if (mod.api !== NATIVE_API) {
      nativeError = `${p} is stale (api ${mod.api}, expected ${NATIVE_API}); rebuild with: node native/build.js`;
      return null;
    }
    native = mod;
    blasThreads = configureThreads(mod);
  } catch (e) {
    nativeError = `failed to load ${p}: ${(e as Error).message.split('\n')[0]}`;
    native = null;
  }
  return native;
}

let blasThreads = 0;

/**
 * OpenBLAS threads: MFF_BLAS_THREADS when set; 1 inside vitest (test files run two at a time on 2 cores, and
 * spinning BLAS workers of two processes on two cores were ~2x slower than one thread each); else OpenBLAS's own
 * default (all cores, or OPENBLAS_NUM_THREADS).
 */
function configureThreads(mod: NativeAddon): number {
  const env = process.env.MFF_BLAS_THREADS;
  const n = env !== undefined && env !== '' ? Number(env) : process.env.VITEST ? 1 : 0;
  if (!Number.isInteger(n) || n < 0) throw new Error(`MFF_BLAS_THREADS must be a non-negative integer, got '${env}'`);
  return n > 0 ? mod.threads(n) : mod.threads();
}

/** OpenBLAS thread count in use (0 when the native engine is off). */
export function nativeThreads(): number {
  loadNative();
  return blasThreads;
}

export function nativeAvailable(): boolean {
  return loadNative() !== null;
}

/** Why the native engine is not in use ('' when it is). */
export function nativeStatus(): string {
  loadNative();
  return nativeError;
}

// ------------------------------------------------------------------ heap helpers

/**
 * Views of the whole heap. A view is valid only until the next allocation: `makeOutput` (any malloc) may grow the
 * wasm memory, which detaches the old ArrayBuffer (its views then read as length 0, silently). So take a view after
 * the last `makeOutput` of a kernel and never keep one, or a length read from one, across an allocation
 * (test/nn/heap-growth.test.ts forces a growth inside every kernel's allocation).
 */
const f32 = (b: WasmBackend) => new Float32Array(b.wasm.HEAPU8.buffer);
const i32 = (b: WasmBackend) => new Int32Array(b.wasm.HEAPU8.buffer);
/** Element (4-byte) offset of a tensor's data in the heap. */
const off = (b: WasmBackend, t: tf.TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset >>> 2;
const size = (shape: number[]) => shape.reduce((a, c) => a * c, 1);
const is4Byte = (dt: tf.DataType) => dt === 'float32' || dt === 'int32';

/** out = x (shares the buffer, like the cpu backend's identity). */
function share(b: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  b.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

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
function transposeHeap(b: WasmBackend, inOff: number, outOff: number, shape0: number[], perm0: number[]): void {
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

// ------------------------------------------------------------------ kernels

function transposeKernel(orig: Kernel): Kernel {
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

function batchMatMulKernel(orig: Kernel): Kernel {
  return (args) => {
    const { a, b } = args.inputs;
    const transposeA = Boolean(args.attrs.transposeA);
    const transposeB = Boolean(args.attrs.transposeB);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return orig(args);
    const be = args.backend;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (K !== Kb) return orig(args); // let tfjs raise its own error
    let outer: number[];
    try {
      outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    } catch {
      return orig(args);
    }
    if (K === 0) {
      // an empty sum: zeros (the stock wasm kernel leaves its output uninitialised here)
      const out = be.makeOutput([...outer, M, N], 'float32');
      const o = off(be, out);
      f32(be).fill(0, o, o + size(outer) * M * N);
      return out;
    }
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    const batch = Math.max(batchA, batchB);
    const nat = loadNative();
    if (!nat) {
      // Stock wasm is fast only for one plain 2-D product: transpose explicitly, then call it.
      if (batch !== 1 || (!transposeA && !transposeB)) return orig(args);
      const tmp: tf.TensorInfo[] = [];
      const flip = (t: tf.TensorInfo, rows: number, cols: number) => {
        const o = be.makeOutput([cols, rows], 'float32');
        transposeHeap(be, off(be, t), off(be, o), [rows, cols], [1, 0]);
        tmp.push(o);
        return o;
      };
      const a2 = transposeA ? flip(a, K, M) : a;
      const b2 = transposeB ? flip(b, N, K) : b;
      const res = orig({ ...args, inputs: { a: a2, b: b2 }, attrs: { ...args.attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
      for (const t of tmp) be.disposeData(t.dataId);
      return res;
    }
    const out = be.makeOutput([...outer, M, N], 'float32');
    const a0 = off(be, a);
    const b0 = off(be, b);
    const c0 = off(be, out);
    const nOut = size(outer);
    const oa = new Int32Array(nOut);
    const ob = new Int32Array(nOut);
    const oc = new Int32Array(nOut);
    if (nOut === batch) {
      // tfjs's own (cpu and wasm) batch rule: flattened batch index modulo each operand's batch size
      for (let i = 0; i < nOut; i++) {
        oa[i] = a0 + (i % batchA) * M * K;
        ob[i] = b0 + (i % batchB) * K * N;
        oc[i] = c0 + i * M * N;
      }
    } else {
      // both operands broadcast (e.g. [3,1,..] x [3,..]): stock tfjs fills only max(batchA, batchB) products
      // here; compute every product with numpy broadcasting instead.
      const plan = broadcastPlan(a.shape.slice(0, -2), b.shape.slice(0, -2));
      const r = plan.shape.length;
      const idx = new Array<number>(r).fill(0);
      let ia = 0;
      let ib = 0;
      for (let i = 0; i < nOut; i++) {
        oa[i] = a0 + ia * M * K;
        ob[i] = b0 + ib * K * N;
        oc[i] = c0 + i * M * N;
        for (let d = r - 1; d >= 0; d--) {
          idx[d]++;
          ia += plan.as[d];
          ib += plan.bs[d];
          if (idx[d] < plan.shape[d]) break;
          ia -= plan.as[d] * plan.shape[d];
          ib -= plan.bs[d] * plan.shape[d];
          idx[d] = 0;
        }
      }
    }
    if (M * N > 0) nat.gemm(f32(be), oa, ob, oc, M, N, K, transposeA ? 1 : 0, transposeB ? 1 : 0);
    return out;
  };
}

function softmaxKernel(orig: Kernel, nat: NativeAddon): Kernel {
  return (args) => {
    const { logits } = args.inputs;
    const r = logits.shape.length;
    const dim = args.attrs.dim as number;
    if (logits.dtype !== 'float32' || r === 0 || (dim !== -1 && dim !== r - 1)) return orig(args);
    const be = args.backend;
    const out = be.makeOutput([...logits.shape], 'float32');
    const cols = logits.shape[r - 1];
    if (cols > 0) nat.softmax(f32(be), off(be, logits), off(be, out), size(logits.shape) / cols, cols);
    return out;
  };
}

function unaryKernel(orig: Kernel, nat: NativeAddon, op: number): Kernel {
  return (args) => {
    const { x } = args.inputs;
    if (x.dtype !== 'float32') return orig(args);
    const be = args.backend;
    const out = be.makeOutput([...x.shape], 'float32');
    const n = size(x.shape);
    if (n > 0) nat.unary(f32(be), op, off(be, x), off(be, out), n);
    return out;
  };
}

/** Output shape plus per-operand strides (0 on broadcast axes), with size-1 axes dropped and mergeable axes merged. */
export function broadcastPlan(aShape: number[], bShape: number[]): { out: number[]; shape: number[]; as: number[]; bs: number[] } {
  const out = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  const r = out.length;
  const strides = (sh: number[]) => {
    const st = new Array<number>(r).fill(0);
    for (let d = r - 1, s = 1, k = sh.length - 1; d >= 0; d--, k--) {
      const n = k >= 0 ? sh[k] : 1;
      st[d] = n === 1 ? 0 : s;
      s *= n;
    }
    return st;
  };
  const as0 = strides(aShape);
  const bs0 = strides(bShape);
  const shape: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  for (let d = 0; d < r; d++) {
    if (out[d] === 1) continue;
    const k = shape.length - 1;
    if (k >= 0 && as[k] === as0[d] * out[d] && bs[k] === bs0[d] * out[d]) {
      shape[k] *= out[d];
      as[k] = as0[d];
      bs[k] = bs0[d];
    } else {
      shape.push(out[d]);
      as.push(as0[d]);
      bs.push(bs0[d]);
    }
  }
  if (shape.length === 0) {
    shape.push(1);
    as.push(0);
    bs.push(0);
  }
  return { out, shape, as, bs };
}

function binaryKernel(orig: Kernel, nat: NativeAddon, op: number): Kernel {
  return (args) => {
    const { a, b } = args.inputs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return orig(args);
    let plan: ReturnType<typeof broadcastPlan>;
    try {
      plan = broadcastPlan(a.shape, b.shape);
    } catch {
      return orig(args);
    }
    if (plan.shape.length > 8) return orig(args);
    const be = args.backend;
    const out = be.makeOutput(plan.out, 'float32');
    if (size(plan.out) > 0) {
      nat.binary(f32(be), op, off(be, a), off(be, b), off(be, out), Int32Array.from(plan.shape), Int32Array.from(plan.as), Int32Array.from(plan.bs));
    }
    return out;
  };
}

/** Sum over one run of consecutive axes (after sorting), float32. */
/** Sum (mean = false) or Mean over contiguous axes: one native pass (out[o, i] = sum_r x[o, r, i]), Mean then divides. */
function sumKernel(orig: Kernel, nat: NativeAddon, mean = false): Kernel {
  return (args) => {
    const { x } = args.inputs;
    if (x.dtype !== 'float32' || x.shape.length === 0) return orig(args);
    let axes: number[];
    try {
      axes = [...new Set(tf.util.parseAxisParam(args.attrs.axis as number | number[], x.shape))].sort((p, q) => p - q);
    } catch {
      return orig(args);
    }
    if (axes.length === 0 || axes[axes.length - 1] - axes[0] !== axes.length - 1) return orig(args);
    const sh = x.shape;
    const O = size(sh.slice(0, axes[0]));
    const R = size(sh.slice(axes[0], axes[axes.length - 1] + 1));
    const I = size(sh.slice(axes[axes.length - 1] + 1));
    const outShape = args.attrs.keepDims ? sh.map((d, i) => (axes.includes(i) ? 1 : d)) : sh.filter((_, i) => !axes.includes(i));
    const be = args.backend;
    const out = be.makeOutput(outShape, 'float32');
    if (O * I > 0) nat.reduceSum(f32(be), off(be, x), off(be, out), O, R, I);
    if (mean && O * I > 0) {
      // tfjs divides the float32 sum by the reduce size (a float64 quotient rounded to float32 is the same)
      const h = f32(be);
      const o0 = off(be, out);
      for (let i = o0; i < o0 + O * I; i++) h[i] = h[i] / R;
    }
    return out;
  };
}

/** SplitV: block copies per outer row (the stock wasm kernel goes through a generic strided slice per output). */
function splitVKernel(orig: Kernel): Kernel {
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

function identityKernel(orig: Kernel): Kernel {
  return (args) => (args.inputs.x.dtype === 'string' ? orig(args) : share(args.backend, args.inputs.x));
}

function castKernel(orig: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs;
    return x.dtype === args.attrs.dtype && x.dtype !== 'string' ? share(args.backend, x) : orig(args);
  };
}

/** Unpack along axis 0: each output is one contiguous block. */
function unpackKernel(orig: Kernel): Kernel {
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
function gatherKernel(orig: Kernel): Kernel {
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
function registerTileGradient(): void {
  tf.registerGradient({
    kernelName: 'Tile',
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
  });
}

// ------------------------------------------------------------------ convolutions (im2col + GEMM)

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

function convKernel(orig: Kernel, nat: NativeAddon, mode: 0 | 1 | 2): Kernel {
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
function fusedConvKernel(orig: Kernel, nat: NativeAddon): Kernel {
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

// ------------------------------------------------------------------ fused ops (GELU, LayerNorm)

let fusedRegistered = false;

function registerFusedKernels(nat: NativeAddon): void {
  const k = (kernelName: string, kernelFunc: Kernel) =>
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  k('MffGelu', ({ inputs: { x }, backend: be }) => {
    const out = be.makeOutput([...x.shape], 'float32');
    nat.gelu(f32(be), 0, off(be, x), 0, off(be, out), size(x.shape));
    return out;
  });
  k('MffGeluGrad', ({ inputs: { x, dy }, backend: be }) => {
    const out = be.makeOutput([...x.shape], 'float32');
    nat.gelu(f32(be), 1, off(be, x), off(be, dy), off(be, out), size(x.shape));
    return out;
  });
  k('MffLayerNorm', ({ inputs: { x, weight, bias }, backend: be, attrs }) => {
    const D = x.shape[x.shape.length - 1];
    const out = be.makeOutput([...x.shape], 'float32');
    if (D > 0) nat.layerNorm(f32(be), off(be, x), off(be, weight), off(be, bias), off(be, out), size(x.shape) / D, D, attrs.eps as number);
    return out;
  });
  k('MffLayerNormGrad', ({ inputs: { x, weight, dy }, backend: be, attrs }) => {
    const D = x.shape[x.shape.length - 1];
    const dx = be.makeOutput([...x.shape], 'float32');
    const dw = be.makeOutput([D], 'float32');
    const db = be.makeOutput([D], 'float32');
    if (D > 0) nat.layerNormGrad(f32(be), off(be, x), off(be, weight), off(be, dy), off(be, dx), off(be, dw), off(be, db), size(x.shape) / D, D, attrs.eps as number);
    return [dx, dw, db];
  });
  k('MffAdamW', ({ inputs: { param, m, v, grad }, backend: be, attrs }) => {
    const n = size(param.shape);
    const outs = [0, 1, 2].map(() => be.makeOutput([...param.shape], 'float32'));
    const offs = Int32Array.of(off(be, param), off(be, m), off(be, v), off(be, grad), ...outs.map((o) => off(be, o)), n);
    if (n > 0) nat.adamw(f32(be), offs, Float32Array.from(attrs.consts as number[]));
    return outs;
  });
  // optional input `bias` [H, N, N]: added to the scaled logits; the gradient then also returns d bias
  k('MffAttention', ({ inputs: { qkv, bias }, backend: be, attrs }) => {
    const [B, N, D3] = qkv.shape;
    const H = attrs.numHeads as number;
    const out = be.makeOutput([B, N, D3 / 3], 'float32');
    const probs = be.makeOutput([B, H, N, N], 'float32');
    const offs = [off(be, qkv), off(be, out), off(be, probs), ...(bias ? [off(be, bias)] : [])];
    nat.attention(f32(be), 0, Int32Array.from(offs), Int32Array.of(B, N, H, D3 / 3 / H, bias ? 1 : 0), attrs.scale as number);
    return [out, probs];
  });
  k('MffAttentionGrad', ({ inputs: { qkv, probs, dy }, backend: be, attrs }) => {
    const [B, N, D3] = qkv.shape;
    const H = attrs.numHeads as number;
    const hasBias = Boolean(attrs.hasBias);
    const dqkv = be.makeOutput([B, N, D3], 'float32');
    const dbias = hasBias ? be.makeOutput([H, N, N], 'float32') : null;
    const offs = [off(be, qkv), off(be, probs), off(be, dy), off(be, dqkv), ...(dbias ? [off(be, dbias)] : [])];
    nat.attention(f32(be), 1, Int32Array.from(offs), Int32Array.of(B, N, H, D3 / 3 / H, hasBias ? 1 : 0), attrs.scale as number);
    return dbias ? [dqkv, dbias] : dqkv;
  });
  k('MffLinear', ({ inputs: { x, weight, bias }, backend: be }) => {
    const [M, K] = x.shape;
    const N = weight.shape[1];
    const y = be.makeOutput([M, N], 'float32');
    const ob = bias ? off(be, bias) : 0;
    nat.linear(f32(be), 0, Int32Array.of(off(be, x), off(be, weight), ob, off(be, y)), Int32Array.of(M, K, N, bias ? 1 : 0));
    return y;
  });
  k('MffLinearGradX', ({ inputs: { dy, weight }, backend: be }) => {
    const [M, N] = dy.shape;
    const K = weight.shape[0];
    const dx = be.makeOutput([M, K], 'float32');
    nat.linear(f32(be), 1, Int32Array.of(off(be, dy), off(be, weight), off(be, dx)), Int32Array.of(M, K, N, 0));
    return dx;
  });
  k('MffLinearGradW', ({ inputs: { x, dy }, backend: be, attrs }) => {
    const [M, K] = x.shape;
    const N = dy.shape[1];
    const hasBias = Boolean(attrs.hasBias);
    const dw = be.makeOutput([K, N], 'float32');
    const db = hasBias ? be.makeOutput([N], 'float32') : null;
    nat.linear(f32(be), 2, Int32Array.of(off(be, x), off(be, dy), off(be, dw), db ? off(be, db) : 0), Int32Array.of(M, K, N, hasBias ? 1 : 0));
    return db ? [dw, db] : [dw];
  });
  for (const hasBias of [true, false]) {
    tf.registerGradient({
      kernelName: hasBias ? 'MffLinear' : 'MffLinearNoBias',
      inputsToSave: ['x', 'weight'],
      gradFunc: (dy, saved) => {
        // dW and db from one native pass, computed here (the tape runs each thunk in its own tidy); dx lazily.
        const [x, w] = saved;
        const g = tf.engine().runKernel('MffLinearGradW', { x, dy: dy as tf.Tensor }, { hasBias }) as unknown as tf.Tensor[];
        const dx = () => tf.engine().runKernel('MffLinearGradX', { dy: dy as tf.Tensor, weight: w }) as tf.Tensor;
        const grads: Record<string, () => tf.Tensor> = { x: dx, weight: () => g[0] };
        if (hasBias) grads.bias = () => g[1];
        return grads;
      },
    });
  }
  k('MffLinearNoBias', ({ inputs: { x, weight }, backend: be }) => {
    const [M, K] = x.shape;
    const N = weight.shape[1];
    const y = be.makeOutput([M, N], 'float32');
    nat.linear(f32(be), 0, Int32Array.of(off(be, x), off(be, weight), 0, off(be, y)), Int32Array.of(M, K, N, 0));
    return y;
  });
  tf.registerGradient({
    kernelName: 'MffGelu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel('MffGeluGrad', { x: saved[0], dy: dy as tf.Tensor }) as tf.Tensor }),
  });
  tf.registerGradient({
    kernelName: 'MffLayerNorm',
    inputsToSave: ['x', 'weight'],
    gradFunc: (dy, saved, attrs) => {
      // One native pass gives all three, computed here rather than in the thunks: the tape runs each thunk in
      // its own tidy. The gradient tidy around this call disposes the ones nobody asks for.
      const g = tf.engine().runKernel('MffLayerNormGrad', { x: saved[0], weight: saved[1], dy: dy as tf.Tensor }, attrs) as tf.Tensor[];
      const get = (i: number) => g[i];
      return { x: () => get(0), weight: () => get(1), bias: () => get(2) };
    },
  });
  fusedRegistered = true;
}

const fusedReady = (...ts: tf.Tensor[]) =>
  fusedRegistered && loadNative() !== null && tf.getBackend() === 'wasm' && ts.every((t) => t.dtype === 'float32');

/** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)): one native pass forward and backward when available, else composed. */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (fusedReady(x)) return tf.engine().runKernel('MffGelu', { x }) as tf.Tensor;
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/** LayerNorm over the last axis, (x - mean) / sqrt(var_biased + eps) * w + b; w, b: [D]. Native fused when available. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const D = x.shape[x.rank - 1];
  if (fusedReady(x, weight, bias) && weight.rank === 1 && bias.rank === 1 && weight.shape[0] === D && bias.shape[0] === D) {
    return tf.engine().runKernel('MffLayerNorm', { x, weight, bias }, { eps }) as tf.Tensor;
  }
  const { mean, variance } = tf.moments(x, -1, true);
  const xn = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(xn, weight), bias);
}

/**
 * Linear layer y = x W (+ b) on x [M, K], W [K, N], b [N]: one native sgemm forward (bias rows + beta = 1), and
 * backward dx = dy W^T plus (dW = x^T dy, db = column sums of dy) in one pass, with the transpose flags of sgemm
 * (no transposed copies). Returns null when unavailable; the caller composes matMul + add.
 */
export function linearFused(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor | null {
  if (!(bias ? fusedReady(x, weight, bias) : fusedReady(x, weight)) || x.rank !== 2 || weight.rank !== 2 || x.shape[1] !== weight.shape[0]) return null;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[1])) return null;
  return bias
    ? (tf.engine().runKernel('MffLinear', { x, weight, bias }) as tf.Tensor)
    : (tf.engine().runKernel('MffLinearNoBias', { x, weight }) as tf.Tensor);
}

/**
 * Multi-head self-attention core on a fused qkv projection: qkv [B, N, 3D] ([q | k | v], heads contiguous in
 * each third) -> softmax(scale q k^T) v merged back to [B, N, D], i.e. what src/nn/layers.ts attention() computes
 * between its qkv and proj Linears; `bias` [H, N, N] (relative position bias) is added to the scaled logits, and
 * gets its gradient (summed over the batch). One native kernel forward (batched GEMMs on strided views, no
 * transposes) and one backward. Returns null when unavailable; the caller composes the ops.
 */
export function attentionCore(qkv: tf.Tensor, numHeads: number, scale: number, bias?: tf.Tensor): tf.Tensor | null {
  if (!fusedReady(qkv) || qkv.rank !== 3 || (qkv.shape[2] as number) % (3 * numHeads) !== 0) return null;
  if (bias) {
    const N = qkv.shape[1] as number;
    if (!fusedReady(bias) || !tf.util.arraysEqual(bias.shape, [numHeads, N, N])) return null;
    const attrs = { numHeads, scale, hasBias: true };
    const opb = tf.customGrad(((x: tf.Tensor, bb: tf.Tensor, save: tf.GradSaveFunc) => {
      const [out, probs] = tf.engine().runKernel('MffAttention', { qkv: x, bias: bb }, attrs) as unknown as tf.Tensor[];
      save([x, probs]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel('MffAttentionGrad', { qkv: saved[0], probs: saved[1], dy }, attrs) as unknown as tf.Tensor[],
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return opb(qkv, bias);
  }
  const attrs = { numHeads, scale };
  const op = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const [out, probs] = tf.engine().runKernel('MffAttention', { qkv: x }, attrs) as unknown as tf.Tensor[];
    save([x, probs]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel('MffAttentionGrad', { qkv: saved[0], probs: saved[1], dy }, attrs) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(qkv);
}

// ------------------------------------------------------------------ fused AdamW

export interface AdamWHyper {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step count (bias correction) */
  step: number;
}

/**
 * One AdamW update as a single native kernel: returns new [param, exp_avg, exp_avg_sq] tensors computed exactly as
 * the engine's optimizer (optim.ts) composes it (same float32 op order: bitwise equal), or null when the fused path is not
 * available (other backend, no addon, non-float32) so the caller composes the ops itself.
 */
export function adamwUpdate(param: tf.Tensor, m: tf.Tensor, v: tf.Tensor, grad: tf.Tensor, h: AdamWHyper): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!fusedReady(param, m, v, grad)) return null;
  if (![m, v, grad].every((t) => tf.util.arraysEqual(t.shape, param.shape))) return null;
  const f = Math.fround;
  const consts = Float32Array.of(
    f(1 - h.lr * h.weightDecay), f(1 - h.beta1), f(h.beta2), f(1 - h.beta2), f(Math.sqrt(1 - h.beta2 ** h.step)), f(h.eps),
    f(h.lr / (1 - h.beta1 ** h.step)), h.weightDecay !== 0 ? 1 : 0,
  );
  return tf.engine().runKernel('MffAdamW', { param, m, v, grad }, { consts: Array.from(consts) }) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

// ------------------------------------------------------------------ registration

function override(name: string, make: (orig: Kernel) => Kernel, done: string[]): void {
  const k = tf.getKernel(name, 'wasm');
  if (!k) return;
  const orig = k.kernelFunc as unknown as Kernel;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...k, kernelFunc: make(orig) as unknown as tf.KernelFunc });
  done.push(name);
}

/**
 * Install the overrides (idempotent). Requires @tensorflow/tfjs-backend-wasm to be imported already. Returns
 * whether the native addon is used and which kernels were replaced (natively backed ones marked with '*').
 */
export function registerFastKernels(): { native: boolean; kernels: string[] } {
  if (registeredResult) return registeredResult;
  const nat = loadNative();
  const done: string[] = [];
  override('BatchMatMul', batchMatMulKernel, done);
  override('Transpose', transposeKernel, done);
  override('Identity', identityKernel, done);
  override('Cast', castKernel, done);
  override('Unpack', unpackKernel, done);
  override('GatherV2', gatherKernel, done);
  override('SplitV', splitVKernel, done);
  if (nat) {
    override('Softmax', (o) => softmaxKernel(o, nat), done);
    override('Erf', (o) => unaryKernel(o, nat, 0), done);
    override('Exp', (o) => unaryKernel(o, nat, 1), done);
    override('Add', (o) => binaryKernel(o, nat, 0), done);
    override('Sub', (o) => binaryKernel(o, nat, 1), done);
    override('Multiply', (o) => binaryKernel(o, nat, 2), done);
    override('RealDiv', (o) => binaryKernel(o, nat, 3), done);
    override('Sum', (o) => sumKernel(o, nat), done);
    override('Mean', (o) => sumKernel(o, nat, true), done);
    override('Conv2D', (o) => convKernel(o, nat, 0), done);
    override('Conv2DBackpropInput', (o) => convKernel(o, nat, 1), done);
    override('Conv2DBackpropFilter', (o) => convKernel(o, nat, 2), done);
    override('FusedConv2D', (o) => fusedConvKernel(o, nat), done);
    registerFusedKernels(nat);
    done.push('MffGelu', 'MffLayerNorm', 'MffAdamW', 'MffAttention', 'MffLinear');
  }
  registerTileGradient();
  done.push('grad:Tile');
  const nativeKernels = new Set(['BatchMatMul', 'Softmax', 'Erf', 'Exp', 'Transpose', 'Add', 'Sub', 'Multiply', 'RealDiv', 'Sum', 'Mean', 'MffGelu', 'MffLayerNorm', 'MffAdamW', 'MffAttention', 'MffLinear', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'FusedConv2D']);
  registeredResult = { native: nat !== null, kernels: done.map((n) => (nat && nativeKernels.has(n) ? `${n}*` : n)) };
  return registeredResult;
}
