/**
 * mmseg EncoderDecoder for MAE + UperNet: backbone -> neck -> decode_head (+ auxiliary_head in training).
 * Images are NHWC and already normalised (SegDataPreProcessor output); logits come back NHWC [B, h, w, K].
 *
 * Training step usage (BN running stats are assigned after the gradient, never inside the tape):
 *   const step = segTrainGrads(model, imgs, labels, { rng, stochastic: true });
 *   optimizer.applyGradients(step.grads); tf.dispose(step.grads);
 *   applyBnUpdates(model.params, step.bnUpdates);
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../../nn/params.js';
import type { Rng } from '../../io/rng.js';
import { bnCtx, disposeBnUpdates, type BnCtx } from '../../nn/conv.js';
import { disposeEvalCache, type EvalCache } from '../../nn/eval-cache.js';
import { resizeBilinear } from '../../nn/resize.js';
import { addMaeBackbone, maeBackbone } from './mae-backbone.js';
import { addFeature2Pyramid, feature2Pyramid } from './feature2pyramid.js';
import { addUperHead, uperHead } from './uper-head.js';
import { addFcnHead, fcnHead } from './fcn-head.js';
import { addLinearHead, linearHead } from './linear-head.js';
import { checkLabels, segLoss } from './loss.js';
import { validateSegConfig, type SegModelConfig } from './config.js';

export interface SegModel {
  cfg: SegModelConfig;
  params: ParamStore;
}

/** Build the model with mmseg's initialisation; parameters and buffers are registered in state_dict order. */
export function buildSegmentor(cfg: SegModelConfig, rng: Rng): SegModel {
  validateSegConfig(cfg);
  const p = new ParamStore();
  addMaeBackbone(p, rng, cfg.backbone);
  if (isLinearHead(cfg)) {
    addLinearHead(p, rng, cfg.decodeHead);
  } else {
    addFeature2Pyramid(p, rng, cfg.neck, cfg.backbone.embedDims);
    addUperHead(p, rng, cfg.decodeHead);
  }
  if (cfg.auxiliaryHead) addFcnHead(p, rng, cfg.auxiliaryHead);
  for (const n of frozenBackboneNames(p.names(), cfg.backbone.frozenStages ?? 0)) p.setTrainable(n, false);
  return { cfg, params: p };
}

/** `decodeHead.type === 'linear'`: the frozen-feature probe on the backbone taps (no neck). */
export function isLinearHead(cfg: SegModelConfig): boolean {
  return cfg.decodeHead.type === 'linear';
}

/** mmpretrain frozen_stages: patch_embed, cls_token, pos_embed and blocks < n (nothing when n is 0). */
export function frozenBackboneNames(names: string[], n: number): string[] {
  if (n <= 0) return [];
  return names.filter((k) => {
    if (/^backbone\.(patch_embed\.|cls_token$|pos_embed$)/.test(k)) return true;
    const m = /^backbone\.layers\.(\d+)\./.exec(k);
    return m !== null && Number(m[1]) < n;
  });
}

/** The whole backbone is frozen: its taps are computed outside the gradient tape. */
function backboneFrozen(cfg: SegModelConfig): boolean {
  return (cfg.backbone.frozenStages ?? 0) >= cfg.backbone.numLayers;
}

function ctxFor(model: SegModel, training: boolean, cache?: EvalCache): BnCtx {
  return bnCtx(training, { eps: model.cfg.bnEps, momentum: model.cfg.bnMomentum, ...(cache ? { cache } : {}) });
}

/** Backbone taps imgs [B, S, S, C] -> [B, g, g, D] per out index. `rng` non-null enables drop path. */
export function segTaps(model: SegModel, imgs: tf.Tensor4D, rng: Rng | null = null, cache?: EvalCache): tf.Tensor4D[] {
  return maeBackbone(model.params, model.cfg.backbone, imgs, rng, cache);
}

/** Neck over the taps: pyramid levels for UPerHead / FCNHead; the taps themselves for the linear head. */
function segLevels(model: SegModel, taps: tf.Tensor4D[], ctx: BnCtx): tf.Tensor4D[] {
  return isLinearHead(model.cfg) ? taps : feature2Pyramid(model.params, model.cfg.neck, taps, ctx);
}

/** backbone + neck: imgs [B, S, S, C] -> pyramid levels (the taps for the linear head). `rng` non-null enables drop path. */
export function segFeatures(model: SegModel, imgs: tf.Tensor4D, ctx: BnCtx, rng: Rng | null = null): tf.Tensor4D[] {
  return segLevels(model, segTaps(model, imgs, rng, ctx.cache), ctx);
}

/** The decode head over the levels: UPerHead or the linear probe. */
function decodeHead(model: SegModel, levels: tf.Tensor4D[], ctx: BnCtx, rng: Rng | null = null): tf.Tensor4D {
  const { cfg, params: p } = model;
  return isLinearHead(cfg) ? linearHead(p, cfg.decodeHead, levels, ctx, rng) : uperHead(p, cfg.decodeHead, levels, ctx, rng);
}

/** Eval-mode decode-head logits [B, h0, w0, K] (UPerHead: level-0 resolution; linear: token grid). `cache`: see segPredictor. */
export function segDecodeHeadOut(model: SegModel, imgs: tf.Tensor4D, cache?: EvalCache): tf.Tensor4D {
  return tf.tidy(() => {
    const ctx = ctxFor(model, false, cache);
    return decodeHead(model, segFeatures(model, imgs, ctx), ctx);
  });
}

/** EncoderDecoder.encode_decode (eval, whole image): logits resized to the input size, [B, S, S, K]. */
export function segEncodeDecode(model: SegModel, imgs: tf.Tensor4D, cache?: EvalCache): tf.Tensor4D {
  return tf.tidy(() => resizeBilinear(segDecodeHeadOut(model, imgs, cache), [imgs.shape[1], imgs.shape[2]]));
}

/**
 * An inference session over fixed weights: encode_decode with the weight-only work done once (BN folded into
 * the ConvModule filters, BN scale/shift, the gathered relative position biases) instead of per image. Same
 * numbers as segEncodeDecode up to float rounding. Call dispose() when done; the weights must not change between.
 */
export function segPredictor(model: SegModel): { encodeDecode: (imgs: tf.Tensor4D) => tf.Tensor4D; dispose: () => void } {
  const cache: EvalCache = new Map();
  return { encodeDecode: (imgs) => segEncodeDecode(model, imgs, cache), dispose: () => disposeEvalCache(cache) };
}

export interface SegTrainOpts {
  /** Draws drop-path and Dropout2d masks when `stochastic` is true. */
  rng: Rng | null;
  /** false: drop path and Dropout2d are identities (the golden train step); BN still uses batch statistics. */
  stochastic: boolean;
}

export interface SegTrainOut {
  /** decodeLoss + auxLoss (aux already carries its loss weight). */
  loss: tf.Scalar;
  decodeLoss: tf.Scalar;
  auxLoss: tf.Scalar | null;
  decodeAcc: tf.Scalar;
  auxAcc: tf.Scalar | null;
  /** New BN running stats / num_batches_tracked, kept across tidy: assign with applyBnUpdates or dispose. */
  bnUpdates: Map<string, tf.Tensor>;
}

/**
 * EncoderDecoder.loss in train mode: imgs [B, S, S, C], labels int32 [B, S, S] (ignoreIndex = ignore).
 * Returns tensors owned by the caller (inside tf.variableGrads only `loss` survives unless kept: use segTrainGrads).
 */
export function segForwardTrain(model: SegModel, imgs: tf.Tensor4D, labels: tf.Tensor3D, o: SegTrainOpts, taps?: tf.Tensor4D[]): SegTrainOut {
  const { cfg, params: p } = model;
  if (o.stochastic && o.rng === null) throw new Error('segForwardTrain: stochastic=true needs an rng');
  checkLabels(labels.dataSync() as Int32Array, cfg.decodeHead.numClasses, cfg.ignoreIndex, 'segForwardTrain labels');
  const rng = o.stochastic ? o.rng : null;
  const ctx = ctxFor(model, true);
  try {
    const out = tf.tidy(() => {
      const levels = segLevels(model, taps ?? segTaps(model, imgs, rng), ctx);
      const dec = segLoss(decodeHead(model, levels, ctx, rng), labels, { weight: cfg.decodeHead.lossWeight, ignoreIndex: cfg.ignoreIndex });
      if (!cfg.auxiliaryHead) return { loss: tf.clone(dec.loss), decodeLoss: dec.loss, decodeAcc: dec.acc };
      const aux = segLoss(fcnHead(p, cfg.auxiliaryHead, levels, ctx, rng), labels, { weight: cfg.auxiliaryHead.lossWeight, ignoreIndex: cfg.ignoreIndex });
      return { loss: tf.add(dec.loss, aux.loss), decodeLoss: dec.loss, decodeAcc: dec.acc, auxLoss: aux.loss, auxAcc: aux.acc };
    }) as { loss: tf.Scalar; decodeLoss: tf.Scalar; decodeAcc: tf.Scalar; auxLoss?: tf.Scalar; auxAcc?: tf.Scalar };
    return { ...out, auxLoss: out.auxLoss ?? null, auxAcc: out.auxAcc ?? null, bnUpdates: ctx.updates };
  } catch (e) {
    disposeBnUpdates(ctx.updates);
    throw e;
  }
}

export interface SegTrainStep {
  /** d loss / d var for every trainable variable (or the given ones) that the loss depends on, by parameter name. */
  grads: Map<string, tf.Tensor>;
  loss: number;
  decodeLoss: number;
  auxLoss: number | null;
  decodeAcc: number;
  auxAcc: number | null;
  bnUpdates: Map<string, tf.Tensor>;
}

/**
 * One forward + backward; nothing is assigned. The caller owns `grads` and `bnUpdates`. A wholly frozen backbone
 * (frozenStages = numLayers) runs before the gradient tape, in eval mode: the tape holds the neck and heads only.
 */
export function segTrainGrads(model: SegModel, imgs: tf.Tensor4D, labels: tf.Tensor3D, o: SegTrainOpts, names?: string[]): SegTrainStep {
  const p = model.params;
  const useNames = names ?? p.trainableNames();
  const vars = useNames.map((n) => p.get(n));
  let side: Omit<SegTrainOut, 'loss'> | null = null;
  const taps = backboneFrozen(model.cfg) ? tf.tidy(() => segTaps(model, imgs)) : undefined;
  let value: tf.Scalar;
  let grads: tf.NamedTensorMap;
  try {
    ({ value, grads } = tf.variableGrads(() => {
      const out = segForwardTrain(model, imgs, labels, o, taps);
      const { loss, ...rest } = out;
      for (const t of [rest.decodeLoss, rest.auxLoss, rest.decodeAcc, rest.auxAcc]) if (t) tf.keep(t);
      side = rest;
      return loss;
    }, vars));
  } finally {
    if (taps) tf.dispose(taps);
  }
  const s = side as unknown as Omit<SegTrainOut, 'loss'>;
  const read = (t: tf.Scalar | null) => (t ? t.dataSync()[0] : null);
  const res: SegTrainStep = {
    grads: new Map(),
    loss: value.dataSync()[0],
    decodeLoss: s.decodeLoss.dataSync()[0],
    auxLoss: read(s.auxLoss),
    decodeAcc: s.decodeAcc.dataSync()[0],
    auxAcc: read(s.auxAcc),
    bnUpdates: s.bnUpdates,
  };
  tf.dispose([value, s.decodeLoss, s.decodeAcc, ...(s.auxLoss ? [s.auxLoss] : []), ...(s.auxAcc ? [s.auxAcc] : [])]);
  // variableGrads keys grads by variable name; map back to parameter names
  useNames.forEach((n, i) => {
    const g = grads[vars[i].name];
    if (g) res.grads.set(n, g);
  });
  return res;
}
