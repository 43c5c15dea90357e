/**
 * Peak memory of one UperNet training step (forward + backward, batch B at the crop size), estimated before the
 * first step so a config that cannot fit in the CPU engine's heap fails with numbers instead of "memory access out
 * of bounds" minutes later. Float32 maps by stage, in units the model code keeps on the gradient tape:
 *   parameters + gradients (+ AdamW state when it lives on the heap);
 *   backbone: with withCp one [B, N, D] input per block + one block recomputed (attention maps [B, H, N, N] ×3,
 *     token maps ×16); without it every block's maps;
 *   neck ≈ 3 maps [B, S/4, S/4, D]; UPerHead ≈ 20 maps [B, S/4, S/4, C] kept + 8 more alive in the backward;
 * then 10 % for allocator slack, and 35 % more on the pure wasm engine (no native kernels: stock XNNPACK convolutions
 * pack their filters in the heap and the JS filter gradient makes transposed copies; measured 2.98 vs 2.26 GB at 384²).
 * The per-stage counts were measured on the wasm engine (ViT-S UperNet, 2 × 512², tape contents and heap peak,
 * see docs/memory.md); the estimate is meant to be on the safe side by ~10 %, not exact.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeAvailable } from '../../nn/fast-kernels.js';
import type { SegModelConfig } from './config.js';

export interface SegTrainMemory {
  /** Bytes of parameters + gradients (+ optimizer state on the heap). */
  weights: number;
  backbone: number;
  neck: number;
  head: number;
  total: number;
}

/**
 * `pureWasm` defaults to the running engine: the wasm backend without the native addon.
 */
export function estimateSegTrainMemory(m: SegModelConfig, batch: number, o: { params: number; optimizerOnHeap: boolean; pureWasm?: boolean }): SegTrainMemory {
  const pureWasm = o.pureWasm ?? (tf.getBackend() === 'wasm' && !nativeAvailable());
  const F = 4;
  const b = m.backbone;
  const g = b.imgSize / b.patchSize;
  const N = g * g + 1;
  const tokens = batch * N * b.embedDims;
  const maps = batch * b.numHeads * N * N;
  const block = 3 * maps + 16 * tokens;
  const backbone = F * (b.withCp ? b.numLayers * tokens + block : b.numLayers * block);
  const s0 = (b.imgSize / b.patchSize) * Math.max(...m.neck.rescales); // level-0 side
  const neck = F * 3 * batch * s0 * s0 * b.embedDims;
  const head = F * (20 + 8) * batch * s0 * s0 * m.decodeHead.channels;
  const weights = F * o.params * (o.optimizerOnHeap ? 4 : 2);
  const slack = 1.1 * (pureWasm ? 1.35 : 1);
  return { weights, backbone, neck, head, total: slack * (weights + backbone + neck + head) };
}

/** The wasm32 heap limit (tfjs-backend-wasm grows its memory up to 4 GiB − 64 KiB). */
export const WASM_HEAP_LIMIT = 4294901760;
