/**
 * The one `WasmBackend` type (the parts of tfjs's BackendWasm that our wasm kernels use), the kernel signature, and
 * views into the wasm heap. Shared by every kernel file of the CPU engine (src/backend/registry.ts lists them).
 */
import type * as tf from '@tensorflow/tfjs';

interface TensorData {
  memoryOffset: number;
  refCount: number;
}

/** The parts of the tfjs wasm backend (BackendWasm) the kernels here use. */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: tf.DataId): TensorData };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.TypedArray): tf.TensorInfo;
  incRef(id: tf.DataId): void;
  readSync(id: tf.DataId): tf.TypedArray;
  disposeData(id: tf.DataId, force?: boolean): boolean;
}

export type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackend; attrs: Record<string, unknown> };
export type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/**
 * Views of the whole heap. A view is valid only until the next allocation: `makeOutput` (any malloc) may grow the
 * wasm memory, which detaches the old ArrayBuffer (its views then read as length 0, silently). So take a view after
 * the last `makeOutput` of a kernel and never keep one, or a length read from one, across an allocation
 * (test/nn/heap-growth.test.ts forces a growth inside every kernel's allocation).
 */
export const f32 = (b: WasmBackend) => new Float32Array(b.wasm.HEAPU8.buffer);
export const i32 = (b: WasmBackend) => new Int32Array(b.wasm.HEAPU8.buffer);
/** Element (4-byte) offset of a tensor's data in the heap. */
export const off = (b: WasmBackend, t: tf.TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset >>> 2;
export const size = (shape: number[]) => shape.reduce((a, c) => a * c, 1);
export const is4Byte = (dt: tf.DataType) => dt === 'float32' || dt === 'int32';

/** out = x (shares the buffer, like the cpu backend's identity). */
export function share(b: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  b.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/** A gradient registration without its kernel name (the table row names the kernel). */
export type Gradient = Omit<tf.GradConfig, 'kernelName'>;
