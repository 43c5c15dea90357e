/**
 * Peak memory of one UperNet training step (forward + backward, batch B at the crop size), estimated before the
 * first step so a config that cannot fit in the CPU engine's heap fails with numbers instead of "memory access out
 * of bounds" minutes later. Float32 maps by stage, in units the model code keeps alive at the step's peak, which is
 * the start of the head's backward (the backward frees saved tensors and gradients as it walks the tape:
 * backend/lean-backprop.ts, so later the activations shrink while the gradients grow):
 *   weights (+ AdamW state when it lives on the heap); then the larger of
 *     all gradients (the end of the backward), and
 *     the activations: backbone (withCp: one [B, N, D] input per block; without it every block's attention maps
 *     [B, H, N, N] ×3 and token maps ×16), neck ≈ 2.5 maps [B, S/4, S/4, D], UPerHead ≈ 14 maps [B, S/4, S/4, C]
 *     (≈ 10 saved for the backward over all levels + the frontier gradients and one BN backward's temporaries),
 *     plus the UPerHead's own parameter gradients (they exist while its activations do);
 * then 10 % for allocator slack, and 30 % more on the pure wasm engine (no native kernels: their temporaries live in
 * the heap — XNNPACK's packed filters, the JS filter gradient's and transposed matmuls' copies, the composed attention's
 * maps; ViT-B 512² batch 2 grew the heap to 3.67 GB through its first step, 1.36 × the native peak of 2.70 GB).
 * Calibrated on measured heap peaks on this machine (docs/memory.md; `npm run bench -- --only seg-train-ade` and
 * `seg-train-ade-b` print `estimate_mb` beside `heap_peak_mb`); meant to be on the safe side by ~10 %, not exact.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeAvailable } from '../../backend/native.js';
import type { SegModelConfig, UperHeadConfig } from './config.js';

export interface SegTrainMemory {
  /** Bytes of parameters (+ optimizer state on the heap). */
  weights: number;
  /** Bytes of all parameter gradients (alive together only at the end of the backward). */
  grads: number;
  backbone: number;
  neck: number;
  /** UPerHead activations + its parameter gradients. */
  head: number;
  total: number;
}

/** Trainable parameters of mmseg's UPerHead (conv weights; BN and bias vectors are negligible). */
export function uperHeadParams(c: UperHeadConfig): number {
  const C = c.channels;
  const top = c.inChannels[c.inChannels.length - 1];
  const n = c.inChannels.length;
  const psp = c.poolScales.length * top * C;
  const bottleneck = (top + c.poolScales.length * C) * C * 9;
  const laterals = c.inChannels.slice(0, -1).reduce((a, cin) => a + cin * C, 0);
  const fpn = (n - 1) * C * C * 9;
  const fpnBottleneck = n * C * C * 9;
  return psp + bottleneck + laterals + fpn + fpnBottleneck + C * c.numClasses;
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
  const backbone = F * (b.withCp ? b.numLayers * tokens : b.numLayers * block);
  const s0 = (b.imgSize / b.patchSize) * Math.max(...m.neck.rescales); // level-0 side
  const neck = F * 2.5 * batch * s0 * s0 * b.embedDims;
  const head = F * (14 * batch * s0 * s0 * m.decodeHead.channels + uperHeadParams(m.decodeHead));
  const weights = F * o.params * (o.optimizerOnHeap ? 3 : 1);
  const grads = F * o.params;
  const slack = 1.1 * (pureWasm ? 1.3 : 1);
  return { weights, grads, backbone, neck, head, total: slack * (weights + Math.max(grads, backbone + neck + head)) };
}

/** The wasm32 heap limit (tfjs-backend-wasm grows its memory up to 4 GiB − 64 KiB). */
export const WASM_HEAP_LIMIT = 4294901760;
