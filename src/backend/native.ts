/**
 * Loading the native addon (native/build/mff_native.node, OpenBLAS + C loops; see native/README.md): its JS-visible
 * API, the version check, OpenBLAS threads, and why it is not in use. MFF_NATIVE=0 disables it. The kernels that
 * call it are listed in src/backend/registry.ts.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Must equal MFF_NATIVE_API in native/src/mff_native.c: a stale build (older sources) is not used. */
const NATIVE_API = 16;

export interface NativeAddon {
  api: number;
  gemm(heap: Float32Array, offA: Int32Array, offB: Int32Array, offC: Int32Array, M: number, N: number, K: number, transA: number, transB: number): void;
  transpose(heap: Float32Array, inOff: number, outOff: number, shape: Int32Array, perm: Int32Array): void;
  /** out [rows, total] = the parts' [rows, widths[p]] blocks side by side (4-byte elements; widths sum to total) */
  concatRows(heap: Float32Array | Int32Array, outOff: number, total: number, rows: number, srcOffs: Int32Array, widths: Int32Array): void;
  softmax(heap: Float32Array, inOff: number, outOff: number, rows: number, cols: number): void;
  /** op 0 = erf, 1 = exp */
  unary(heap: Float32Array, op: number, inOff: number, outOff: number, n: number): void;
  /** op 0 add, 1 sub, 2 mul, 3 div; strides 0 broadcast */
  binary(heap: Float32Array, op: number, aOff: number, bOff: number, outOff: number, shape: Int32Array, aStr: Int32Array, bStr: Int32Array): void;
  /** out[o, i] = sum_r x[o, r, i] */
  reduceSum(heap: Float32Array, inOff: number, outOff: number, O: number, R: number, I: number): void;
  /** mode 0: y = gelu(x); mode 1: dx = dy * gelu'(x) */
  gelu(heap: Float32Array, mode: number, xOff: number, dyOff: number, outOff: number, n: number): void;
  /** y = layer_norm(x); with aOff and sOff, y = layer_norm(s) of the residual sum s = x + a, s written too */
  layerNorm(heap: Float32Array, xOff: number, wOff: number, bOff: number, yOff: number, rows: number, D: number, eps: number, aOff?: number, sOff?: number): void;
  /** dx, dw, db of layer_norm(x) from dy; with dsOff, ds is added to dx (the residual stream's own gradient) */
  layerNormGrad(heap: Float32Array, xOff: number, wOff: number, dyOff: number, dxOff: number, dwOff: number, dbOff: number, rows: number, D: number, eps: number, dsOff?: number): void;
  /** mode 0 forward (y), 1 input gradient (into x), 2 filter gradient (into w); dims see native/src/kernels.h mff_conv2d */
  /** dims[15] (optional, mode 0): epilogue flags, bit 0 = + bias (biasOff), bit 1 = ReLU. */
  conv2d(heap: Float32Array, mode: number, xOff: number, wOff: number, yOff: number, dims: Int32Array, biasOff?: number): void;
  adamw(heap: Float32Array, offs: Int32Array, consts: Float32Array): void;
  /** AdamW in place on k tensors: arrays = [p, m, v, g] × k (heap views or host arrays; p, m, v updated), consts 8 per tensor. */
  adamwMulti(arrays: Float32Array[], consts: Float32Array): void;
  attention(heap: Float32Array, mode: number, offs: Int32Array, dims: Int32Array, scale: number): void;
  /** Linear layer on 2-D operands, dims [M, K, N, hasBias]: mode 0 y = x W + b (offs x, W, b, y); mode 1 dx = dy W^T
   * (offs dy, W, dx); mode 2 dW = x^T dy, db = column sums of dy (offs x, dy, dW, db) */
  linear(heap: Float32Array, mode: number, offs: Int32Array, dims: Int32Array): void;
  /** Transformer FFN gelu(x W1 + b1) W2 + b2, dims [M, K, H, N]: mode 0 offs x, W1, b1, W2, b2, h (-1: not kept), g, y;
   * mode 1 offs x, W1, W2, h, g, dy, dx, dW1, db1, dW2, db2, dh (scratch [M, H]) */
  ffn(heap: Float32Array, mode: number, offs: Int32Array, dims: Int32Array): void;
  /** Train-mode BatchNorm over rows [n, C], dims [n, C, relu]: mode 0 offs x, w, b, y, mean, var; mode 1 offs x, w,
   * y (-1 without ReLU), dy, mean, var, dx, dw, db. Throws when the partial sums cannot be allocated. */
  batchNormTrain(heap: Float32Array, mode: number, offs: Int32Array, dims: Int32Array, eps: number): void;
  /** Segmentation cross-entropy over rows z [m, K], int32 labels y [m], dims [m, K, ignore]: mode 0 out[3] = the sums
   * {log p[y], argmax hits, valid rows}; mode 1 out [m, K] = (softmax − onehot) · scale (0 on ignored rows). Throws on
   * a label that is neither a class nor the ignore index. */
  segCe(heap: Float32Array, mode: number, offs: Int32Array, dims: Int32Array, scale: number): void;
  threads(n?: number): number;
  /** 1 when the engine's GEMMs run on oneDNN (libdnnl.so.2 present, MFF_DNNL != 0), 0 on OpenBLAS */
  gemmLib(): number;
}

const require = createRequire(import.meta.url);
let native: NativeAddon | null | undefined;
let nativeError = '';

/** Path of the built addon (native/build.js). */
export function nativeAddonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', 'native', 'build', 'mff_native.node');
}

/**
 * True when node samples itself with SIGPROF: `--cpu-prof` or `--prof` on the command line or in NODE_OPTIONS.
 * Debian's oneDNN 2.6 (libdnnl2 2.6.3) corrupts the C heap when SIGPROF arrives inside dnnl_sgemm — reproduced by a
 * 20-line C program calling dnnl_sgemm under setitimer(ITIMER_PROF) (no mff code; SIGALRM at the same rate is fine) —
 * so a profiled run keeps its GEMMs on OpenBLAS (loadNative). An inspector session's profiler is not detected.
 */
export function underSigprofProfiler(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((f) => /^--(cpu-prof|prof)(=|$)/.test(f));
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
  if (process.env.MFF_DNNL === undefined && underSigprofProfiler()) {
    process.env.MFF_DNNL = '0'; // read by the addon at its first GEMM
    console.error('[mff] node runs under a CPU profiler (--cpu-prof / --prof): GEMMs on OpenBLAS, not oneDNN (libdnnl 2.6 corrupts the heap when the profiler\'s SIGPROF lands in its sgemm; MFF_DNNL=1 overrides)');
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

/** The library of the engine's GEMMs: 'onednn' (libdnnl.so.2, e.g. Debian's libdnnl2), 'openblas', or '' without the addon. */
export function nativeGemmLib(): string {
  const mod = loadNative();
  return mod ? (mod.gemmLib() ? 'onednn' : 'openblas') : '';
}

export function nativeAvailable(): boolean {
  return loadNative() !== null;
}

/** Why the native engine is not in use ('' when it is). */
export function nativeStatus(): string {
  loadNative();
  return nativeError;
}
