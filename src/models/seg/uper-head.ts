/**
 * mmseg UPerHead (decode_heads/uper_head.py + psp_head.py PPM + BaseDecodeHead.cls_seg), NHWC:
 *   laterals (1x1 ConvModules on levels 0..n-2) + PSP on the top level (adaptive pools -> 1x1 -> bilinear,
 *   concat [x, pools...] -> 3x3 bottleneck); top-down bilinear adds; 3x3 fpn convs; all levels resized to level 0,
 *   concat -> 3x3 fpn_bottleneck -> Dropout2d -> conv_seg (1x1 with bias). Output at level-0 resolution.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../../nn/params.js';
import type { Rng } from '../../io/rng.js';
import { normal } from '../../nn/init.js';
import { adaptiveAvgPool, addConvModule, addSameShape, conv2d, convModule, convModuleConcat, type BnCtx } from '../../nn/conv.js';
import { resizeBilinear } from '../../nn/resize.js';
import { dropout2d } from './dropout.js';
import type { UperHeadConfig } from './config.js';

/** BaseDecodeHead.conv_seg: weight ~ N(0, 0.01), bias 0. Registered first (BaseDecodeHead.__init__ order). */
export function addConvSeg(p: ParamStore, rng: Rng, prefix: string, channels: number, numClasses: number): void {
  p.add(`${prefix}.conv_seg.weight`, normal(rng, [1, 1, channels, numClasses], 0.01), 'conv');
  p.add(`${prefix}.conv_seg.bias`, tf.zeros([numClasses]));
}

export function addUperHead(p: ParamStore, rng: Rng, c: UperHeadConfig): void {
  const h = 'decode_head';
  const top = c.inChannels[c.inChannels.length - 1];
  addConvSeg(p, rng, h, c.channels, c.numClasses);
  c.poolScales.forEach((_, k) => addConvModule(p, rng, `${h}.psp_modules.${k}.1`, top, c.channels, 1));
  addConvModule(p, rng, `${h}.bottleneck`, top + c.poolScales.length * c.channels, c.channels, 3);
  c.inChannels.slice(0, -1).forEach((cin, i) => addConvModule(p, rng, `${h}.lateral_convs.${i}`, cin, c.channels, 1));
  c.inChannels.slice(0, -1).forEach((_, i) => addConvModule(p, rng, `${h}.fpn_convs.${i}`, c.channels, c.channels, 3));
  addConvModule(p, rng, `${h}.fpn_bottleneck`, c.inChannels.length * c.channels, c.channels, 3);
}

function size(x: tf.Tensor4D): [number, number] {
  return [x.shape[1], x.shape[2]];
}

/** Pyramid levels (NHWC) -> logits [B, h0, w0, K]. `rng` non-null switches on Dropout2d. */
export function uperHead(p: ParamStore, c: UperHeadConfig, levels: tf.Tensor4D[], ctx: BnCtx, rng: Rng | null = null): tf.Tensor4D {
  const h = 'decode_head';
  const inputs = c.inIndex.map((i) => levels[i]);
  const n = inputs.length;
  // build laterals
  const laterals = inputs.slice(0, -1).map((x, i) => convModule(p, `${h}.lateral_convs.${i}`, x, ctx));
  // PSP on the top level: concat order x, pool scale 0, 1, ...
  const x = inputs[n - 1];
  const psp = [x, ...c.poolScales.map((s, k) => resizeBilinear(convModule(p, `${h}.psp_modules.${k}.1`, adaptiveAvgPool(x, s), ctx), size(x)))];
  laterals.push(convModule(p, `${h}.bottleneck`, tf.concat(psp, 3), ctx, { padding: 1 }));
  // build top-down path (not in place: each level adds the already-updated level above)
  // (each in a tidy: the resized map is not saved for the backward and is freed at once)
  for (let i = n - 1; i > 0; i--) laterals[i - 1] = tf.tidy(() => addSameShape(laterals[i - 1], resizeBilinear(laterals[i], size(laterals[i - 1]))));
  // build outputs
  const outs = laterals.slice(0, -1).map((l, i) => convModule(p, `${h}.fpn_convs.${i}`, l, ctx, { padding: 1 }));
  outs.push(laterals[n - 1]);
  // fpn_bottleneck over concat(levels resized to level 0) = [B, h0, w0, n·channels] (never formed in training)
  const feat = convModuleConcat(p, `${h}.fpn_bottleneck`, outs, size(outs[0]), ctx, { padding: 1 });
  return conv2d(p, `${h}.conv_seg`, dropout2d(feat, c.dropoutRatio, rng));
}
