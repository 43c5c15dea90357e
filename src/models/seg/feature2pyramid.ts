/**
 * mmseg Feature2Pyramid (mmseg/models/necks/featurepyramid.py): one op per input level, by position.
 *   rescales [4, 2, 1, 0.5]:   [upsample_4x, upsample_2x, identity, maxpool 2]
 *   rescales [2, 1, 0.5, 0.25]: [upsample_2x, identity, maxpool 2, maxpool 4]
 * upsample_4x = ConvT(2, 2) -> BN -> GELU -> ConvT(2, 2) (keys .0, .1, .3); upsample_2x = ConvT(2, 2) (key .0).
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../../nn/params.js';
import type { Rng } from '../../io/rng.js';
import { gelu } from '../../nn/layers.js';
import { addBatchNorm, addConvTranspose, batchNorm, convTranspose2d, maxPool, type BnCtx } from '../../nn/conv.js';
import type { SegNeckConfig } from './config.js';

type Op = 'up4' | 'up2' | 'id' | 'down2' | 'down4';

function neckOps(c: SegNeckConfig): Op[] {
  return c.rescales.includes(4) ? ['up4', 'up2', 'id', 'down2'] : ['up2', 'id', 'down2', 'down4'];
}

/** Params in state_dict order (PyTorch default ConvTranspose2d init; BN 1/0). */
export function addFeature2Pyramid(p: ParamStore, rng: Rng, c: SegNeckConfig, dims: number): void {
  if (c.rescales.includes(4)) {
    addConvTranspose(p, rng, 'neck.upsample_4x.0', dims, dims, 2);
    addBatchNorm(p, 'neck.upsample_4x.1', dims);
    addConvTranspose(p, rng, 'neck.upsample_4x.3', dims, dims, 2);
  }
  if (c.rescales.includes(2)) addConvTranspose(p, rng, 'neck.upsample_2x.0', dims, dims, 2);
}

/** NHWC maps [B, g, g, D] (one per level) -> the pyramid, each level [B, g·r, g·r, D]. */
export function feature2Pyramid(p: ParamStore, c: SegNeckConfig, inputs: tf.Tensor4D[], ctx: BnCtx): tf.Tensor4D[] {
  const ops = neckOps(c);
  if (inputs.length !== ops.length) throw new Error(`Feature2Pyramid: got ${inputs.length} inputs, expected ${ops.length}`);
  return inputs.map((x, i) => {
    switch (ops[i]) {
      case 'up4': {
        const h = batchNorm(p, 'neck.upsample_4x.1', convTranspose2d(p, 'neck.upsample_4x.0', x), ctx);
        return convTranspose2d(p, 'neck.upsample_4x.3', gelu(h) as tf.Tensor4D);
      }
      case 'up2':
        return convTranspose2d(p, 'neck.upsample_2x.0', x);
      case 'id':
        return x;
      case 'down2':
        return maxPool(x, 2);
      case 'down4':
        return maxPool(x, 4);
    }
  });
}
