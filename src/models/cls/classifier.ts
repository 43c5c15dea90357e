/**
 * ImageNet transfer models: mmpretrain ImageClassifier as built by the MFF/MAE benchmark configs.
 *   finetune  VisionTransformer(out_type 'avg_featmap', final_norm False, drop_path_rate) -> backbone.ln2
 *             -> LinearClsHead (head.fc)                       configs/mff/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py
 *   linear    VisionTransformer(out_type 'cls_token', final_norm True: backbone.ln1), frozen, eval
 *             -> ClsBatchNormNeck (neck.bn, BatchNorm1d affine=False) -> VisionTransformerClsHead (head.layers.head)
 *                                                              configs/mff/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py
 * Images are NHWC and already normalised. Parameters are registered in state_dict order under mmpretrain's keys.
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../../nn/params.js';
import type { Rng } from '../../io/rng.js';
import { blocks, drawDropPath, layerNorm, linear, linspaceNp, type BlockOpts, type DropPathDraw } from '../../nn/layers.js';
import { normal, uniform, xavierBound } from '../../nn/init.js';
import { resolveArch, type ViTArch } from '../arch.js';
import { expandTokens, patchEmbed } from '../vit.js';

export type ClsMode = 'finetune' | 'linear';

export interface ClsModelConfig {
  mode: ClsMode;
  /** An arch_zoo key ('deit-small', 'base', ...) or custom dims. */
  arch: string | ViTArch;
  imgSize: number;
  patchSize: number;
  /** Default 3. */
  inChannels?: number;
  numClasses: number;
  /** Stochastic depth, linspace(0, rate, depth) over the blocks (finetune only). Default 0.1 finetune, 0 linear. */
  dropPathRate?: number;
  /** LayerNorm eps. Default 1e-6. */
  lnEps?: number;
  /** ClsBatchNormNeck eps / momentum (linear only). Defaults 1e-6 / 0.1. */
  bnEps?: number;
  bnMomentum?: number;
  /** Head TruncNormal std. Default 2e-5 (LinearClsHead, finetune) or 0.01 (VisionTransformerClsHead, linear). */
  headInitStd?: number;
}

export interface ClsModel {
  cfg: ClsModelConfig;
  arch: ViTArch;
  grid: number;
  numPatches: number;
  /** Per-block drop-path probability: linspace(0, dropPathRate, depth). */
  dpr: number[];
  lnEps: number;
  bnEps: number;
  bnMomentum: number;
  params: ParamStore;
}

// ---------------------------------------------------------------- initialisation

/** mmengine TruncNormalInit / trunc_normal_: N(0, std²) rejected outside the ABSOLUTE bounds [a, b] = [-2, 2]. */
export function truncNormalAbs(rng: Rng, shape: number[], std: number, a = -2, b = 2): tf.Tensor {
  const n = shape.reduce((x, y) => x * y, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = std * rng.normal();
    while (v < a || v > b) v = std * rng.normal();
    d[i] = v;
  }
  return tf.tensor(d, shape);
}

/** nn.Linear with PyTorch's default init (kaiming_uniform a=√5): weight and bias U(±1/√fan_in). */
function addTorchLinear(p: ParamStore, rng: Rng, name: string, din: number, dout: number): void {
  const bound = 1 / Math.sqrt(din);
  p.add(`${name}.weight`, uniform(rng, [din, dout], bound), 'linear');
  p.add(`${name}.bias`, uniform(rng, [dout], bound));
}

function addLn(p: ParamStore, name: string, d: number, trainable: boolean): void {
  p.add(`${name}.weight`, tf.ones([d]), 'plain', trainable);
  p.add(`${name}.bias`, tf.zeros([d]), 'plain', trainable);
}

/**
 * The classifier with mmpretrain's from-scratch init (the benchmark then loads pretrained backbone weights over it):
 * cls_token 0, pos_embed trunc_normal(0.02), patch conv / qkv / proj PyTorch defaults, FFN xavier + N(0, 1e-6) bias
 * (TransformerEncoderLayer.init_weights), LayerNorms 1/0, head TruncNormal(std) with bias 0.
 * Linear mode: every backbone entry is frozen (frozen_stages = depth), the BN buffers are non-trainable.
 */
export function buildClassifier(cfg: ClsModelConfig, rng: Rng): ClsModel {
  const arch = resolveArch(cfg.arch);
  const { embedDims: D, numLayers, feedforwardChannels: F } = arch;
  const C = cfg.inChannels ?? 3;
  const linearProbe = cfg.mode === 'linear';
  if (cfg.mode !== 'finetune' && cfg.mode !== 'linear') throw new Error(`model.mode must be 'finetune' or 'linear', got '${String(cfg.mode)}'`);
  if (!Number.isInteger(cfg.numClasses) || cfg.numClasses <= 0) throw new Error(`model.numClasses must be a positive integer, got ${cfg.numClasses}`);
  if (cfg.imgSize % cfg.patchSize !== 0) throw new Error(`model.imgSize ${cfg.imgSize} is not divisible by patchSize ${cfg.patchSize}`);
  const rate = cfg.dropPathRate ?? (linearProbe ? 0 : 0.1);
  if (!(rate >= 0 && rate < 1)) throw new Error(`model.dropPathRate must be in [0, 1), got ${rate}`);
  const grid = cfg.imgSize / cfg.patchSize;
  const L = grid * grid;
  const dpr = linspaceNp(rate, numLayers); // mmpretrain: np.linspace(0, drop_path_rate, num_layers)
  const bb = !linearProbe; // backbone trainable?
  const p = new ParamStore();

  // ---- backbone (VisionTransformer): own parameters first, then submodules, as state_dict() orders them
  p.add('backbone.cls_token', tf.zeros([1, 1, D]), 'plain', bb);
  p.add('backbone.pos_embed', truncNormalAbs(rng, [1, 1 + L, D], 0.02), 'plain', bb);
  const k = C * cfg.patchSize * cfg.patchSize;
  p.add('backbone.patch_embed.projection.weight', uniform(rng, [cfg.patchSize, cfg.patchSize, C, D], 1 / Math.sqrt(k)), 'conv', bb);
  p.add('backbone.patch_embed.projection.bias', uniform(rng, [D], 1 / Math.sqrt(k)), 'plain', bb);
  for (let i = 0; i < numLayers; i++) {
    const n = `backbone.layers.${i}`;
    addLn(p, `${n}.ln1`, D, bb);
    addTorchLinear(p, rng, `${n}.attn.qkv`, D, 3 * D);
    addTorchLinear(p, rng, `${n}.attn.proj`, D, D);
    addLn(p, `${n}.ln2`, D, bb);
    p.add(`${n}.ffn.layers.0.0.weight`, uniform(rng, [D, F], xavierBound(D, F)), 'linear');
    p.add(`${n}.ffn.layers.0.0.bias`, normal(rng, [F], 1e-6));
    p.add(`${n}.ffn.layers.1.weight`, uniform(rng, [F, D], xavierBound(F, D)), 'linear');
    p.add(`${n}.ffn.layers.1.bias`, normal(rng, [D], 1e-6));
    if (!bb) for (const s of ['attn.qkv', 'attn.proj', 'ffn.layers.0.0', 'ffn.layers.1']) for (const t of ['weight', 'bias']) p.setTrainable(`${n}.${s}.${t}`, false);
  }

  if (linearProbe) {
    addLn(p, 'backbone.ln1', D, false);
    // ---- neck (ClsBatchNormNeck): BatchNorm1d(D, affine=False) buffers
    p.add('neck.bn.running_mean', tf.zeros([D]), 'plain', false);
    p.add('neck.bn.running_var', tf.ones([D]), 'plain', false);
    p.add('neck.bn.num_batches_tracked', tf.scalar(0, 'int32'), 'plain', false, true);
    // ---- head (VisionTransformerClsHead)
    p.add('head.layers.head.weight', truncNormalAbs(rng, [D, cfg.numClasses], cfg.headInitStd ?? 0.01), 'linear');
    p.add('head.layers.head.bias', tf.zeros([cfg.numClasses]));
  } else {
    addLn(p, 'backbone.ln2', D, true);
    // ---- head (LinearClsHead)
    p.add('head.fc.weight', truncNormalAbs(rng, [D, cfg.numClasses], cfg.headInitStd ?? 2e-5), 'linear');
    p.add('head.fc.bias', tf.zeros([cfg.numClasses]));
  }

  return {
    cfg,
    arch,
    grid,
    numPatches: L,
    dpr,
    lnEps: cfg.lnEps ?? 1e-6,
    bnEps: cfg.bnEps ?? 1e-6,
    bnMomentum: cfg.bnMomentum ?? 0.1,
    params: p,
  };
}

// ---------------------------------------------------------------- forward

/** Block i's options: mmpretrain TransformerEncoderLayer with drop path on both residual branches (drawn here, for B samples). */
function clsBlockOpts(m: ClsModel, i: number, B: number, rng: Rng | null): BlockOpts {
  const drop: [DropPathDraw | null, DropPathDraw | null] = [drawDropPath(B, m.dpr[i], rng), drawDropPath(B, m.dpr[i], rng)];
  return { numHeads: m.arch.numHeads, eps: m.lnEps, drop };
}

/** Running-stat update of neck.bn, tf.keep()-ed so it survives tidy / variableGrads; apply with applyBnUpdate. */
export type BnUpdate = {
  runningMean: tf.Tensor1D;
  runningVar: tf.Tensor1D;
  numBatchesTracked: tf.Scalar;
};

export type ClsForwardOut = {
  /** [B, K], no softmax. */
  logits: tf.Tensor2D;
  /** Backbone output [B, D]: ln2(mean of patch tokens) (finetune) or the cls token after ln1 (linear). */
  features: tf.Tensor2D;
  /** ClsBatchNormNeck output [B, D] (linear only). */
  neckOut?: tf.Tensor2D;
  /** Linear mode in train: the BN running stats to assign after the optimiser step. */
  bnUpdate?: BnUpdate;
};

export interface ClsForwardOpts {
  train: boolean;
  /** Drop-path randomness; required in finetune train mode when any rate > 0. */
  rng?: Rng;
}

/** Backbone: imgs [B, H, W, C] -> last block output [B, 1+L, D] (final norm not applied). */
function backboneTokens(m: ClsModel, imgs: tf.Tensor, rng: Rng | null): tf.Tensor {
  const p = m.params;
  const [B, H, W] = imgs.shape;
  if (H !== m.cfg.imgSize || W !== m.cfg.imgSize) {
    throw new Error(`classifier expects ${m.cfg.imgSize}x${m.cfg.imgSize} images (model.imgSize), got ${H}x${W}`);
  }
  const tokens = patchEmbed(p, 'backbone', imgs, m.cfg.patchSize); // [B, L, D]
  const cls = expandTokens(p.get('backbone.cls_token'), [B, 1, m.arch.embedDims]); // [B, 1, D] (no tile: see expandTokens)
  // VisionTransformer adds pos_embed to the cls token too (row 0).
  const x = tf.add(tf.concat([cls, tokens], 1), p.get('backbone.pos_embed')); // [B, 1+L, D]
  const names = Array.from({ length: m.arch.numLayers }, (_, i) => `backbone.layers.${i}`);
  return blocks(m.params, names, x, (i) => clsBlockOpts(m, i, B, rng)); // [B, 1+L, D]
}

/**
 * The classifier forward. Not tidied: call inside tf.tidy / tf.variableGrads.
 * finetune: drop path is active when train is true. linear: the backbone always runs in eval mode; the neck
 * normalises with batch statistics in train mode (and returns the running-stat update) and with the running ones in eval.
 */
export function clsForward(m: ClsModel, imgs: tf.Tensor, opts: ClsForwardOpts): ClsForwardOut {
  const p = m.params;
  const B = imgs.shape[0];
  const D = m.arch.embedDims;
  const L = m.numPatches;
  if (m.cfg.mode === 'finetune') {
    const needRng = opts.train && m.dpr.some((r) => r > 0);
    if (needRng && !opts.rng) throw new Error('clsForward: finetune training with drop path needs opts.rng');
    const x = backboneTokens(m, imgs, needRng ? opts.rng! : null);
    // out_type avg_featmap: ln2(mean over patch tokens), cls excluded: [B, 1+L, D] -> [B, L, D] -> [B, D]
    const pooled = tf.mean(tf.slice(x, [0, 1, 0], [B, L, D]), 1);
    const features = layerNorm(p, 'backbone.ln2', pooled, m.lnEps) as tf.Tensor2D;
    return { logits: linear(p, 'head.fc', features) as tf.Tensor2D, features };
  }

  const x = backboneTokens(m, imgs, null);
  // final_norm then out_type cls_token: [B, 1+L, D] -> [B, D]
  const features = tf.reshape(tf.slice(layerNorm(p, 'backbone.ln1', x, m.lnEps), [0, 0, 0], [B, 1, D]), [B, D]) as tf.Tensor2D;
  let neckOut: tf.Tensor2D;
  let bnUpdate: BnUpdate | undefined;
  if (opts.train) {
    if (B < 2) throw new Error(`ClsBatchNormNeck in train mode needs more than 1 sample per batch, got ${B}`);
    const { mean, variance } = tf.moments(features, 0); // biased variance, [D]
    neckOut = tf.div(tf.sub(features, mean), tf.sqrt(tf.add(variance, m.bnEps))) as tf.Tensor2D;
    const mom = m.bnMomentum;
    const unbiased = tf.mul(variance, B / (B - 1));
    bnUpdate = {
      runningMean: tf.add(tf.mul(p.get('neck.bn.running_mean'), 1 - mom), tf.mul(mean, mom)) as tf.Tensor1D,
      runningVar: tf.add(tf.mul(p.get('neck.bn.running_var'), 1 - mom), tf.mul(unbiased, mom)) as tf.Tensor1D,
      numBatchesTracked: tf.add(p.get('neck.bn.num_batches_tracked'), tf.scalar(1, 'int32')) as tf.Scalar,
    };
    for (const t of Object.values(bnUpdate)) tf.keep(t);
  } else {
    const rm = p.get('neck.bn.running_mean');
    const rv = p.get('neck.bn.running_var');
    neckOut = tf.div(tf.sub(features, rm), tf.sqrt(tf.add(rv, m.bnEps))) as tf.Tensor2D;
  }
  const logits = linear(p, 'head.layers.head', neckOut) as tf.Tensor2D;
  return { logits, features, neckOut, bnUpdate };
}

/** Assign a BN running-stat update to neck.bn.* and dispose it. */
export function applyBnUpdate(m: ClsModel, u: BnUpdate): void {
  m.params.get('neck.bn.running_mean').assign(u.runningMean);
  m.params.get('neck.bn.running_var').assign(u.runningVar);
  m.params.get('neck.bn.num_batches_tracked').assign(u.numBatchesTracked);
  tf.dispose([u.runningMean, u.runningVar, u.numBatchesTracked]);
}

export { loadBackboneFromCheckpoint, loadClassifierState, type BackboneLoadReport } from './load.js';
