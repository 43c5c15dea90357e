/**
 * MAE pretraining (mmpretrain MAE / MAEViT / MAEPretrainDecoder / MAEPretrainHead(norm_pix)), with MFF's
 * fusion (./mff.ts) switched on by `algorithm: 'mff'`. Three named stages: forwardEncoder -> forwardDecoder ->
 * forwardLoss. Images are NHWC and already normalised; they are also the reconstruction target.
 * Masking convention (MAE): mask[b, l] = 1 where patch l was removed, 0 where it was kept.
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../nn/params.js';
import type { Rng } from '../io/rng.js';
import { addBlock, addLayerNorm, addLinear, blocks, layerNorm, linear } from '../nn/layers.js';
import { normal } from '../nn/init.js';
import { resolveArch, type ViTArch } from './arch.js';
import { sincosPosEmbed } from './pos-embed.js';
import { addPatchEmbed, expandTokens, patchEmbed, patchify } from './vit.js';
import { addFusionProjections, addFusionWeights, fuseTaps, fusionWeights } from './mff.js';

export interface DecoderConfig {
  embedDims: number;
  depth: number;
  numHeads: number;
  /** Defaults to 4 * embedDims. */
  feedforwardChannels?: number;
}

export interface PretrainModelConfig {
  algorithm: 'mff' | 'mae';
  /** An arch_zoo key ('deit-tiny', 'deit-small', 'base', 'large', ...) or custom dims. */
  arch: string | ViTArch;
  imgSize: number;
  patchSize: number;
  inChannels: number;
  maskRatio: number;
  /** MFF taps (0-based block indices, negatives count from the end). Ignored for MAE (last block only). */
  outIndices: number[];
  decoder: DecoderConfig;
  normPix: boolean;
  lnEps: number;
}

export interface PretrainModel {
  cfg: PretrainModelConfig;
  arch: ViTArch;
  /** Resolved, non-negative tap indices; [numLayers-1] for MAE. */
  outIndices: number[];
  numPatches: number;
  lenKeep: number;
  params: ParamStore;
}

export function resolveOutIndices(cfg: PretrainModelConfig, numLayers: number): number[] {
  if (cfg.algorithm === 'mae') return [numLayers - 1];
  const idx = cfg.outIndices.map((i) => (i < 0 ? numLayers + i : i));
  for (const i of idx) if (!Number.isInteger(i) || i < 0 || i >= numLayers) throw new Error(`model.outIndices: ${i} is not a block index in [0, ${numLayers})`);
  for (let k = 1; k < idx.length; k++) if (idx[k] <= idx[k - 1]) throw new Error(`model.outIndices must be strictly increasing, got [${cfg.outIndices}]`);
  if (idx.length === 0) throw new Error('model.outIndices is empty');
  return idx;
}

/** Build the model with mmpretrain's initialisation; parameters are registered in state_dict order. */
export function buildPretrainModel(cfg: PretrainModelConfig, rng: Rng): PretrainModel {
  const arch = resolveArch(cfg.arch);
  const D = arch.embedDims;
  const dec = cfg.decoder;
  const Dd = dec.embedDims;
  if (cfg.imgSize % cfg.patchSize !== 0) throw new Error(`model.imgSize ${cfg.imgSize} is not divisible by patchSize ${cfg.patchSize}`);
  if (Dd % dec.numHeads !== 0) throw new Error(`model.decoder.embedDims ${Dd} is not divisible by numHeads ${dec.numHeads}`);
  const grid = cfg.imgSize / cfg.patchSize;
  const L = grid * grid;
  const lenKeep = Math.trunc(L * (1 - cfg.maskRatio));
  if (lenKeep < 1) throw new Error(`model.maskRatio ${cfg.maskRatio} keeps no patch out of ${L}`);
  const outIndices = resolveOutIndices(cfg, arch.numLayers);
  const p = new ParamStore();

  // ---- backbone (MAEViT / MFFViT)
  p.add('backbone.cls_token', normal(rng, [1, 1, D], 0.02));
  p.add('backbone.pos_embed', tf.tensor(sincosPosEmbed(grid, D), [1, 1 + L, D]), 'plain', false);
  if (cfg.algorithm === 'mff') addFusionWeights(p, outIndices);
  addPatchEmbed(p, rng, 'backbone', cfg.inChannels, cfg.patchSize, D);
  for (let i = 0; i < arch.numLayers; i++) addBlock(p, rng, `backbone.layers.${i}`, D, arch.feedforwardChannels, { std: 1e-6 });
  addLayerNorm(p, 'backbone.ln1', D);
  if (cfg.algorithm === 'mff') addFusionProjections(p, rng, outIndices, D);

  // ---- neck (MAEPretrainDecoder)
  p.add('neck.mask_token', normal(rng, [1, 1, Dd], 0.02));
  p.add('neck.decoder_pos_embed', tf.tensor(sincosPosEmbed(grid, Dd), [1, 1 + L, Dd]), 'plain', false);
  addLinear(p, rng, 'neck.decoder_embed', D, Dd);
  for (let j = 0; j < dec.depth; j++) addBlock(p, rng, `neck.decoder_blocks.${j}`, Dd, dec.feedforwardChannels ?? 4 * Dd, 'zero');
  addLayerNorm(p, 'neck.ln1', Dd);
  addLinear(p, rng, 'neck.decoder_pred', Dd, cfg.patchSize * cfg.patchSize * cfg.inChannels);

  return { cfg, arch, outIndices, numPatches: L, lenKeep, params: p };
}

// ---------------------------------------------------------------- masking

export interface Masking {
  B: number;
  L: number;
  lenKeep: number;
  /** argsort(noise) per row, ascending: small is keep, large is remove. [B*L] */
  idsShuffle: Int32Array;
  /** argsort(idsShuffle): [B*L] */
  idsRestore: Int32Array;
  /** 1 = removed, 0 = kept: [B*L] */
  mask: Float32Array;
}

/** MAE random_masking from a given noise [B, L] (torch.rand in the reference; injectable for tests). */
export function randomMasking(noise: ArrayLike<number>, B: number, L: number, lenKeep: number): Masking {
  if (noise.length !== B * L) throw new Error(`noise has ${noise.length} values, expected ${B}x${L}`);
  const idsShuffle = new Int32Array(B * L);
  const idsRestore = new Int32Array(B * L);
  const mask = new Float32Array(B * L);
  const order = new Array<number>(L);
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) order[l] = l;
    order.sort((i, j) => noise[b * L + i] - noise[b * L + j] || i - j);
    for (let r = 0; r < L; r++) {
      idsShuffle[b * L + r] = order[r];
      idsRestore[b * L + order[r]] = r;
      mask[b * L + order[r]] = r < lenKeep ? 0 : 1;
    }
  }
  return { B, L, lenKeep, idsShuffle, idsRestore, mask };
}

/** Uniform noise [B, L] from the run's Rng (torch.rand equivalent). */
export function drawNoise(rng: Rng, B: number, L: number): Float32Array {
  const n = new Float32Array(B * L);
  for (let i = 0; i < n.length; i++) n[i] = rng.random();
  return n;
}

/**
 * out[b, r] = x[b, perm[b, r]] for x [B, L, D]. perm is a permutation per row, so the gradient is the same
 * gather with the inverse permutation (no scatter kernel needed).
 */
function permuteTokens(x: tf.Tensor, perm: Int32Array, inv: Int32Array): tf.Tensor {
  const [B, L, D] = x.shape;
  const flat = (ids: Int32Array) => {
    const f = new Int32Array(B * L);
    for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) f[b * L + l] = b * L + ids[b * L + l];
    return tf.tensor1d(f, 'int32');
  };
  const fwd = flat(perm);
  const bwd = flat(inv);
  // The inverse index must outlive the forward tidy: hand it to the tape with save().
  const op = tf.customGrad(((t: tf.Tensor, save: tf.GradSaveFunc) => {
    save([bwd]);
    return {
      // [B, L, D] -> [B*L, D] -> gather rows -> [B, L, D]
      value: tf.reshape(tf.gather(tf.reshape(t, [B * L, D]), fwd), [B, L, D]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.reshape(tf.gather(tf.reshape(dy, [B * L, D]), saved[0]), [B, L, D]),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x);
}

// ---------------------------------------------------------------- encoder / decoder / loss

export interface EncoderOut {
  /** [B, 1+lenKeep, D]: cls token first, then kept tokens in noise order, after backbone.ln1. */
  latent: tf.Tensor;
  /** softmax(proj_weights) [T] (MFF only). */
  fusionWeights?: tf.Tensor1D;
}

export function forwardEncoder(m: PretrainModel, imgs: tf.Tensor, mk: Masking): EncoderOut {
  const p = m.params;
  const { embedDims: D, numLayers, numHeads } = m.arch;
  const B = imgs.shape[0];
  const L = m.numPatches;
  const pos = p.get('backbone.pos_embed'); // [1, 1+L, D]
  let x = tf.add(patchEmbed(p, 'backbone', imgs, m.cfg.patchSize), tf.slice(pos, [0, 1, 0], [1, L, D])); // [B, L, D]
  // keep the first lenKeep tokens of the noise order: [B, L, D] -> [B, lenKeep, D]
  x = tf.slice(permuteTokens(x, mk.idsShuffle, mk.idsRestore), [0, 0, 0], [B, mk.lenKeep, D]);
  const cls = tf.add(p.get('backbone.cls_token'), tf.slice(pos, [0, 0, 0], [1, 1, D])); // [1, 1, D]
  x = tf.concat([expandTokens(cls, [B, 1, D]), x], 1); // [B, 1+lenKeep, D]
  const taps: tf.Tensor[] = [];
  const names = Array.from({ length: numLayers }, (_, i) => `backbone.layers.${i}`);
  x = blocks(p, names, x, () => ({ numHeads, eps: m.cfg.lnEps }), (i, out) => {
    if (m.outIndices.includes(i)) taps.push(out);
  });
  if (m.cfg.algorithm === 'mff') {
    return { latent: layerNorm(p, 'backbone.ln1', fuseTaps(p, taps), m.cfg.lnEps), fusionWeights: fusionWeights(p) };
  }
  return { latent: layerNorm(p, 'backbone.ln1', x, m.cfg.lnEps) };
}

/** latent [B, 1+lenKeep, D] -> pred [B, L, p*p*C] (cls dropped). */
export function forwardDecoder(m: PretrainModel, latent: tf.Tensor, mk: Masking): tf.Tensor {
  const p = m.params;
  const dec = m.cfg.decoder;
  const B = latent.shape[0];
  const L = m.numPatches;
  const Dd = dec.embedDims;
  const x = linear(p, 'neck.decoder_embed', latent); // [B, 1+lenKeep, Dd]
  const maskTokens = expandTokens(p.get('neck.mask_token'), [B, L - mk.lenKeep, Dd]); // [B, L-lenKeep, Dd]
  // [B, L, Dd] in noise order -> un-shuffle to spatial order
  const rest = tf.concat([tf.slice(x, [0, 1, 0], [B, mk.lenKeep, Dd]), maskTokens], 1);
  const unshuffled = permuteTokens(rest, mk.idsRestore, mk.idsShuffle);
  let h = tf.add(tf.concat([tf.slice(x, [0, 0, 0], [B, 1, Dd]), unshuffled], 1), p.get('neck.decoder_pos_embed')); // [B, 1+L, Dd]
  h = blocks(p, Array.from({ length: dec.depth }, (_, j) => `neck.decoder_blocks.${j}`), h, () => ({ numHeads: dec.numHeads, eps: m.cfg.lnEps }));
  h = linear(p, 'neck.decoder_pred', layerNorm(p, 'neck.ln1', h, m.cfg.lnEps)); // [B, 1+L, p*p*C]
  return tf.slice(h, [0, 1, 0], [B, L, h.shape[2] as number]);
}

/** patchify(imgs), then per patch (t - mean) / sqrt(var_unbiased + 1e-6) when normPix. [B, L, p*p*C] */
export function reconstructionTarget(m: PretrainModel, imgs: tf.Tensor): tf.Tensor {
  const t = patchify(imgs, m.cfg.patchSize);
  if (!m.cfg.normPix) return t;
  const n = t.shape[2];
  const { mean, variance } = tf.moments(t, -1, true);
  const unbiased = tf.mul(variance, n / (n - 1));
  return tf.div(tf.sub(t, mean), tf.sqrt(tf.add(unbiased, 1e-6)));
}

/** mean over p*p*C of (pred - target)^2, then Σ(· × mask) / Σ mask: only removed patches count. */
export function forwardLoss(pred: tf.Tensor, target: tf.Tensor, mk: Masking): tf.Scalar {
  const perPatch = tf.mean(tf.square(tf.sub(pred, target)), -1); // [B, L]
  const mask = tf.tensor2d(mk.mask, [mk.B, mk.L]);
  return tf.div(tf.sum(tf.mul(perPatch, mask)), tf.sum(mask)) as tf.Scalar;
}

export interface PretrainOut {
  loss: tf.Scalar;
  latent: tf.Tensor;
  pred: tf.Tensor;
  target: tf.Tensor;
  fusionWeights?: tf.Tensor1D;
}

/** The full training forward (MFF.loss / MAE.loss). Not tidied: call inside tf.tidy / tf.variableGrads. */
export function pretrainForward(m: PretrainModel, imgs: tf.Tensor, mk: Masking): PretrainOut {
  const { latent, fusionWeights: fw } = forwardEncoder(m, imgs, mk);
  const pred = forwardDecoder(m, latent, mk);
  const target = reconstructionTarget(m, imgs);
  return { loss: forwardLoss(pred, target, mk), latent, pred, target, fusionWeights: fw };
}

/**
 * mmpretrain MAE.reconstruct: the decoder's prediction [B, L, p*p*C] in the (normalised) image space, i.e. with
 * norm-pix undone by each patch's own statistics: pred · sqrt(var_unbiased + 1e-6) + mean of the target patch.
 * Tidy; no gradients needed (call outside tf.variableGrads).
 */
export function reconstruct(m: PretrainModel, imgs: tf.Tensor, mk: Masking): tf.Tensor3D {
  return tf.tidy(() => {
    const { latent } = forwardEncoder(m, imgs, mk);
    const pred = forwardDecoder(m, latent, mk); // [B, L, p*p*C]
    if (!m.cfg.normPix) return pred as tf.Tensor3D;
    const t = patchify(imgs, m.cfg.patchSize);
    const n = t.shape[2];
    const { mean, variance } = tf.moments(t, -1, true);
    return tf.add(tf.mul(pred, tf.sqrt(tf.add(tf.mul(variance, n / (n - 1)), 1e-6))), mean) as tf.Tensor3D;
  });
}
