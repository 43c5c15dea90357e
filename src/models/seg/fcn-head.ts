/**
 * mmseg FCNHead (decode_heads/fcn_head.py), the auxiliary head: level in_index -> numConvs ConvModules
 * (kernelSize, padding k/2) [-> conv_cat over concat(input, output) when concatInput] -> Dropout2d -> conv_seg.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../../nn/params.js';
import type { Rng } from '../../io/rng.js';
import { addConvModule, conv2d, convModule, type BnCtx } from '../../nn/conv.js';
import { dropout2d } from './dropout.js';
import { addConvSeg } from './uper-head.js';
import type { FcnHeadConfig } from './config.js';

export function addFcnHead(p: ParamStore, rng: Rng, c: FcnHeadConfig, prefix = 'auxiliary_head'): void {
  addConvSeg(p, rng, prefix, c.channels, c.numClasses);
  for (let i = 0; i < c.numConvs; i++) addConvModule(p, rng, `${prefix}.convs.${i}`, i === 0 ? c.inChannels : c.channels, c.channels, c.kernelSize);
  if (c.concatInput) addConvModule(p, rng, `${prefix}.conv_cat`, c.inChannels + c.channels, c.channels, c.kernelSize);
}

/** Pyramid levels (NHWC) -> logits [B, h, w, K] at the resolution of level in_index. */
export function fcnHead(p: ParamStore, c: FcnHeadConfig, levels: tf.Tensor4D[], ctx: BnCtx, rng: Rng | null = null, prefix = 'auxiliary_head'): tf.Tensor4D {
  const x = levels[c.inIndex];
  const pad = Math.floor(c.kernelSize / 2);
  let y = x;
  for (let i = 0; i < c.numConvs; i++) y = convModule(p, `${prefix}.convs.${i}`, y, ctx, { padding: pad });
  if (c.concatInput) y = convModule(p, `${prefix}.conv_cat`, tf.concat([x, y], 3), ctx, { padding: pad });
  return conv2d(p, `${prefix}.conv_seg`, dropout2d(y, c.dropoutRatio, rng));
}
