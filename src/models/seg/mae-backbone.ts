/**
 * mmseg `MAE` backbone (mmseg/models/backbones/mae.py on top of beit.py): a BEiT-style ViT.
 *   x = patch_embed(img); x = [cls, x] + pos_embed
 *   block: x = x + drop_path(gamma_1 · attn(ln1 x, + relative position bias)); x = x + drop_path(gamma_2 · ffn(ln2 x))
 *   no final norm; the blocks in outIndices give their patch tokens as NHWC maps [B, g, g, D].
 * Relative bias: bias[h, i, j] = relative_position_bias_table[relative_position_index[i, j], h] (cls at index 0).
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../../nn/params.js';
import type { Rng } from '../../io/rng.js';
import { block, drawDropPath, linspaceTorchF32, type DropPathDraw } from '../../nn/layers.js';
import { normal } from '../../nn/init.js';
import { patchEmbed } from '../vit.js';
import { evalConst, type EvalCache } from '../../nn/eval-cache.js';
import { checkpoint } from '../../nn/checkpoint.js';
import type { SegBackboneConfig } from './config.js';

/** (2·Wh − 1)(2·Ww − 1) + 3 table rows: the in-window offsets plus cls->token, token->cls, cls->cls. */
export function numRelativeDistance(wh: number, ww: number): number {
  return (2 * wh - 1) * (2 * ww - 1) + 3;
}

/** BEiT relative_position_index [N+1, N+1] (row-major), N = wh·ww. */
export function relativePositionIndex(wh: number, ww: number): Int32Array {
  const n = wh * ww;
  const nrd = numRelativeDistance(wh, ww);
  const idx = new Int32Array((n + 1) * (n + 1));
  for (let a = 0; a < n; a++) {
    const [ya, xa] = [Math.floor(a / ww), a % ww];
    for (let b = 0; b < n; b++) {
      const [yb, xb] = [Math.floor(b / ww), b % ww];
      idx[(a + 1) * (n + 1) + (b + 1)] = (ya - yb + wh - 1) * (2 * ww - 1) + (xa - xb + ww - 1);
    }
  }
  for (let j = 0; j <= n; j++) idx[j] = nrd - 3; // cls -> token (row 0)
  for (let i = 0; i <= n; i++) idx[i * (n + 1)] = nrd - 2; // token -> cls (column 0)
  idx[0] = nrd - 1; // cls -> cls
  return idx;
}

/**
 * Parameters in state_dict order, initialised as MAE.init_weights does without a checkpoint: cls_token and every
 * Linear weight ~ N(0, 0.02) (mmcv trunc_normal_ cuts at ±2 absolute, i.e. 100 std: a plain normal), Linear biases
 * 0 except the FFN's ~ N(0, 1e-6), patch-embed conv kaiming-normal fan_in with bias 0, LN 1/0, pos_embed 0,
 * relative tables 0 (MAEAttention), gammas = initValues. The second init loop overrides fix_init_weight's rescale.
 */
export function addMaeBackbone(p: ParamStore, rng: Rng, c: SegBackboneConfig): void {
  const D = c.embedDims;
  const g = c.imgSize / c.patchSize;
  const N = g * g;
  const ffnDim = c.mlpRatio * D;
  p.add('backbone.cls_token', normal(rng, [1, 1, D], 0.02));
  p.add('backbone.pos_embed', tf.zeros([1, N + 1, D]));
  const k = c.inChannels * c.patchSize * c.patchSize;
  p.add('backbone.patch_embed.projection.weight', normal(rng, [c.patchSize, c.patchSize, c.inChannels, D], Math.sqrt(2 / k)), 'conv');
  p.add('backbone.patch_embed.projection.bias', tf.zeros([D]));
  const lin = (name: string, din: number, dout: number, biasStd: number) => {
    p.add(`${name}.weight`, normal(rng, [din, dout], 0.02), 'linear');
    p.add(`${name}.bias`, biasStd > 0 ? normal(rng, [dout], biasStd) : tf.zeros([dout]));
  };
  const index = relativePositionIndex(g, g);
  for (let i = 0; i < c.numLayers; i++) {
    const l = `backbone.layers.${i}`;
    p.add(`${l}.gamma_1`, tf.fill([D], c.initValues));
    p.add(`${l}.gamma_2`, tf.fill([D], c.initValues));
    p.add(`${l}.ln1.weight`, tf.ones([D]));
    p.add(`${l}.ln1.bias`, tf.zeros([D]));
    p.add(`${l}.attn.relative_position_bias_table`, tf.zeros([numRelativeDistance(g, g), c.numHeads]));
    p.add(`${l}.attn.relative_position_index`, tf.tensor2d(index, [N + 1, N + 1], 'int32'), 'plain', false, true);
    lin(`${l}.attn.qkv`, D, 3 * D, 0);
    lin(`${l}.attn.proj`, D, D, 0);
    p.add(`${l}.ln2.weight`, tf.ones([D]));
    p.add(`${l}.ln2.bias`, tf.zeros([D]));
    lin(`${l}.ffn.layers.0.0`, D, ffnDim, 1e-6);
    lin(`${l}.ffn.layers.1`, ffnDim, D, 1e-6);
  }
}

/** The per-layer bias [H, N+1, N+1] gathered from the table (gather's gradient is a segment sum). */
export function relativePositionBias(p: ParamStore, layer: string): tf.Tensor3D {
  const table = p.get(`${layer}.attn.relative_position_bias_table`); // [T, H]
  const index = p.get(`${layer}.attn.relative_position_index`); // [N+1, N+1] int32
  const n1 = index.shape[0] as number;
  const H = table.shape[1] as number;
  // [(N+1)^2] -> gather -> [(N+1)^2, H] -> [N+1, N+1, H] -> [H, N+1, N+1]
  const flat = tf.gather(table, tf.reshape(index, [n1 * n1]));
  return tf.transpose(tf.reshape(flat, [n1, n1, H]), [2, 0, 1]);
}

/** The trainable parameters of block `prefix` (what its checkpointed recompute differentiates). */
function blockVars(p: ParamStore, prefix: string): tf.Tensor[] {
  return p.trainableNames().filter((n) => n.startsWith(`${prefix}.`)).map((n) => p.get(n));
}

/** mmseg MAE's drop-path schedule: [x.item() for x in torch.linspace(0, rate, n)] (float32). */
export function dropPathRates(rate: number, n: number): number[] {
  return linspaceTorchF32(rate, n);
}

/**
 * imgs [B, S, S, C] (normalised, NHWC) -> one NHWC map [B, g, g, D] per out index. `rng` non-null switches on
 * drop path (train mode with stochastic layers). `cache` (eval only) keeps the gathered relative position biases.
 */
export function maeBackbone(p: ParamStore, c: SegBackboneConfig, imgs: tf.Tensor4D, rng: Rng | null = null, cache?: EvalCache): tf.Tensor4D[] {
  const [B, H, W] = imgs.shape;
  if (H !== c.imgSize || W !== c.imgSize) {
    throw new Error(`MAE backbone: input is ${H}x${W}, but pos_embed and the relative index are fixed to ${c.imgSize}x${c.imgSize}`);
  }
  const D = c.embedDims;
  const g = c.imgSize / c.patchSize;
  const tokens = patchEmbed(p, 'backbone', imgs, c.patchSize); // [B, N, D]
  const cls = tf.tile(p.get('backbone.cls_token'), [B, 1, 1]); // [B, 1, D]
  let x: tf.Tensor = tf.add(tf.concat([cls, tokens], 1), p.get('backbone.pos_embed')); // [B, N+1, D]
  const dpr = dropPathRates(c.dropPathRate, c.numLayers);
  const outs: tf.Tensor4D[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const l = `backbone.layers.${i}`;
    // both DropPath draws of the block, in the order the block applies them (attention branch, then FFN)
    // (a frozen block, i < frozenStages, runs in eval mode: no drop path)
    const r = i < (c.frozenStages ?? 0) ? null : rng;
    const drop: [DropPathDraw | null, DropPathDraw | null] = [drawDropPath(B, dpr[i], r), drawDropPath(B, dpr[i], r)];
    const run = (xIn: tf.Tensor) => {
      const bias = evalConst(cache, `${l}.attn#bias`, () => relativePositionBias(p, l));
      return block(p, l, xIn, { numHeads: c.numHeads, eps: c.lnEps, bias, layerScale: true, drop });
    };
    // One scope per block: its intermediates (the [B, H, N+1, N+1] attention maps: 50 MB per map for ViT-B at 512²)
    // are freed when the block ends instead of when the whole forward does (under a gradient tape the tape keeps
    // what the backward needs), so peak memory is one block's worth, not numLayers' (issue 14).
    x = c.withCp && !cache ? checkpoint(run, [x], blockVars(p, l)) : tf.tidy(() => run(x));
    if (c.outIndices.includes(i)) {
      // [B, N+1, D] -> patch tokens [B, N, D] -> [B, g, g, D]
      outs.push(tf.reshape(tf.slice(x, [0, 1, 0], [-1, -1, -1]), [B, g, g, D]));
    }
  }
  return outs;
}
