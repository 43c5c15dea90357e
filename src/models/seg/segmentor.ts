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
  addFeature2Pyramid(p, rng, cfg.neck, cfg.backbone.embedDims);
  addUperHead(p, rng, cfg.decodeHead);
  if (cfg.auxiliaryHead) addFcnHead(p, rng, cfg.auxiliaryHead);
  return { cfg, params: p };
}

function ctxFor(model: SegModel, training: boolean, cache?: EvalCache): BnCtx {
  return bnCtx(training, { eps: model.cfg.bnEps, momentum: model.cfg.bnMomentum, ...(cache ? { cache } : {}) });
}

/** backbone + neck: imgs [B, S, S, C] -> pyramid levels. `rng` non-null enables drop path. */
export function segFeatures(model: SegModel, imgs: tf.Tensor4D, ctx: BnCtx, rng: Rng | null = null): tf.Tensor4D[] {
  return feature2Pyramid(model.params, model.cfg.neck, maeBackbone(model.params, model.cfg.backbone, imgs, rng, ctx.cache), ctx);
}

/** Eval-mode UPerHead logits [B, S/4', S/4', K] (level-0 resolution). `cache`: see segPredictor. */
export function segDecodeHeadOut(model: SegModel, imgs: tf.Tensor4D, cache?: EvalCache): tf.Tensor4D {
  return tf.tidy(() => {
    const ctx = ctxFor(model, false, cache);
    return uperHead(model.params, model.cfg.decodeHead, segFeatures(model, imgs, ctx), ctx);
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
export function segForwardTrain(model: SegModel, imgs: tf.Tensor4D, labels: tf.Tensor3D, o: SegTrainOpts): SegTrainOut {
  const { cfg, params: p } = model;
  if (o.stochastic && o.rng === null) throw new Error('segForwardTrain: stochastic=true needs an rng');
  checkLabels(labels.dataSync() as Int32Array, cfg.decodeHead.numClasses, cfg.ignoreIndex, 'segForwardTrain labels');
  const rng = o.stochastic ? o.rng : null;
  const ctx = ctxFor(model, true);
  try {
    const out = tf.tidy(() => {
      const levels = segFeatures(model, imgs, ctx, rng);
      const dec = segLoss(uperHead(p, cfg.decodeHead, levels, ctx, rng), labels, { weight: cfg.decodeHead.lossWeight, ignoreIndex: cfg.ignoreIndex });
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

/** One forward + backward; nothing is assigned. The caller owns `grads` and `bnUpdates`. */
export function segTrainGrads(model: SegModel, imgs: tf.Tensor4D, labels: tf.Tensor3D, o: SegTrainOpts, names?: string[]): SegTrainStep {
  const p = model.params;
  const useNames = names ?? p.trainableNames();
  const vars = useNames.map((n) => p.get(n));
  let side: Omit<SegTrainOut, 'loss'> | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const out = segForwardTrain(model, imgs, labels, o);
    const { loss, ...rest } = out;
    for (const t of [rest.decodeLoss, rest.auxLoss, rest.decodeAcc, rest.auxAcc]) if (t) tf.keep(t);
    side = rest;
    return loss;
  }, vars);
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
