/**
 * The frozen-feature segmentation probe (`--head linear`), the analogue of the classification linear probe: the
 * backbone taps of `inIndex` at the token grid (no neck), concatenated over channels (mmseg BaseDecodeHead
 * input_transform 'resize_concat'; all taps share the grid), BatchNorm, Dropout2d, conv_seg (1×1 with bias) — the
 * BNHead of DINOv2's linear segmentation evaluation. Keys: decode_head.bn.*, decode_head.conv_seg.*.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../../nn/params.js';
import type { Rng } from '../../io/rng.js';
import { addBatchNorm, batchNorm, conv2d, type BnCtx } from '../../nn/conv.js';
import { dropout2d } from './dropout.js';
import { addConvSeg } from './uper-head.js';
import type { UperHeadConfig } from './config.js';

export function addLinearHead(p: ParamStore, rng: Rng, c: UperHeadConfig): void {
  const channels = c.inChannels.reduce((a, b) => a + b, 0);
  addConvSeg(p, rng, 'decode_head', channels, c.numClasses);
  addBatchNorm(p, 'decode_head.bn', channels);
}

/** Backbone taps [B, g, g, D] (one per out index) -> logits [B, g, g, K]. `rng` non-null switches on Dropout2d. */
export function linearHead(p: ParamStore, c: UperHeadConfig, taps: tf.Tensor4D[], ctx: BnCtx, rng: Rng | null = null): tf.Tensor4D {
  const inputs = c.inIndex.map((i) => taps[i]);
  const x = inputs.length === 1 ? inputs[0] : tf.concat(inputs, 3); // [B, g, g, Σ D]
  return conv2d(p, 'decode_head.conv_seg', dropout2d(batchNorm(p, 'decode_head.bn', x, ctx), c.dropoutRatio, rng));
}
