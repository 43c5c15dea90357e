/**
 * Typed configuration of the mmseg EncoderDecoder used for ADE20K: MAE (BEiT-style) backbone -> Feature2Pyramid ->
 * UPerHead, plus an FCNHead auxiliary head for training. Field names follow the mmseg config keys in camelCase.
 */

export interface SegBackboneConfig {
  /** Square input size; the backbone only accepts exactly this size (pos_embed and the relative index are fixed). */
  imgSize: number;
  patchSize: number;
  inChannels: number;
  embedDims: number;
  numLayers: number;
  numHeads: number;
  mlpRatio: number;
  /** 0-based block indices whose patch tokens are returned (mmseg out_indices). */
  outIndices: number[];
  /** Stochastic depth, linspace(0, rate, numLayers) over the blocks. */
  dropPathRate: number;
  /** Layer-scale gamma init (mmseg MAE default 0.1; the ADE20K MAE config sets 1.0). */
  initValues: number;
  lnEps: number;
  /**
   * Activation checkpointing of the blocks in training (the `with_cp` of mmseg's ViT / mmcv's checkpoint): the
   * gradient tape keeps each block's input only and the backward recomputes the block. Same numbers, about a third
   * more compute, and the attention maps of all blocks (50 MB per block for ViT-S at 2 × 512²) are never held
   * together. Default false (mmseg's MAE backbone has no with_cp; this is an engine option).
   */
  withCp?: boolean;
  /**
   * mmpretrain VisionTransformer's frozen_stages: > 0 fixes patch_embed, cls_token, pos_embed and the first N blocks
   * (no gradient, no drop path: eval mode); numLayers = the whole backbone (`seg-train --frozen-backbone`). Default 0.
   */
  frozenStages?: number;
}

export interface SegNeckConfig {
  /** Feature2Pyramid rescales: [4, 2, 1, 0.5] or [2, 1, 0.5, 0.25]. */
  rescales: number[];
}

export interface UperHeadConfig {
  /**
   * 'uper' (default): UPerHead over the Feature2Pyramid levels. 'linear': the frozen-feature probe (linear-head.ts):
   * BN + 1×1 conv over the backbone taps of inIndex at the token grid; no neck, channels/poolScales unused.
   */
  type?: 'uper' | 'linear';
  inChannels: number[];
  inIndex: number[];
  channels: number;
  poolScales: number[];
  dropoutRatio: number;
  numClasses: number;
  lossWeight: number;
}

export interface FcnHeadConfig {
  inChannels: number;
  inIndex: number;
  channels: number;
  numConvs: number;
  kernelSize: number;
  concatInput: boolean;
  dropoutRatio: number;
  numClasses: number;
  lossWeight: number;
}

export interface SegModelConfig {
  backbone: SegBackboneConfig;
  neck: SegNeckConfig;
  decodeHead: UperHeadConfig;
  /** null: no auxiliary head (inference-only models). */
  auxiliaryHead: FcnHeadConfig | null;
  ignoreIndex: number;
  bnEps: number;
  bnMomentum: number;
}

/** mmseg `mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py` (ViT-B/16, 150 classes). */
export function maeBaseUpernetAde20k(): SegModelConfig {
  return {
    backbone: {
      imgSize: 512, patchSize: 16, inChannels: 3, embedDims: 768, numLayers: 12, numHeads: 12, mlpRatio: 4,
      outIndices: [3, 5, 7, 11], dropPathRate: 0.1, initValues: 1.0, lnEps: 1e-6, withCp: false,
    },
    neck: { rescales: [4, 2, 1, 0.5] },
    decodeHead: {
      inChannels: [768, 768, 768, 768], inIndex: [0, 1, 2, 3], channels: 768, poolScales: [1, 2, 3, 6],
      dropoutRatio: 0.1, numClasses: 150, lossWeight: 1.0,
    },
    auxiliaryHead: {
      inChannels: 768, inIndex: 2, channels: 256, numConvs: 1, kernelSize: 3, concatInput: false,
      dropoutRatio: 0.1, numClasses: 150, lossWeight: 0.4,
    },
    ignoreIndex: 255,
    bnEps: 1e-5,
    bnMomentum: 0.1,
  };
}

/** Fail loudly on inconsistent sizes (names the offending field). */
export function validateSegConfig(cfg: SegModelConfig): void {
  const b = cfg.backbone;
  const bad = (field: string, msg: string): never => {
    throw new Error(`seg model config: ${field} ${msg}`);
  };
  if (b.imgSize % b.patchSize !== 0) bad('backbone.imgSize', `${b.imgSize} is not divisible by patchSize ${b.patchSize}`);
  if (b.embedDims % b.numHeads !== 0) bad('backbone.embedDims', `${b.embedDims} is not divisible by numHeads ${b.numHeads}`);
  for (const i of b.outIndices) if (!Number.isInteger(i) || i < 0 || i >= b.numLayers) bad('backbone.outIndices', `has ${i}, not a block index in [0, ${b.numLayers})`);
  const r = cfg.neck.rescales.join(',');
  if (r !== '4,2,1,0.5' && r !== '2,1,0.5,0.25') bad('neck.rescales', `must be [4, 2, 1, 0.5] or [2, 1, 0.5, 0.25], got [${r}]`);
  if (cfg.neck.rescales.length !== b.outIndices.length) bad('neck.rescales', `has ${cfg.neck.rescales.length} entries for ${b.outIndices.length} backbone outputs`);
  const fs = b.frozenStages ?? 0;
  if (!Number.isInteger(fs) || fs < 0 || fs > b.numLayers) bad('backbone.frozenStages', `is ${fs}, not in [0, numLayers ${b.numLayers}]`);
  const d = cfg.decodeHead;
  if (d.inChannels.length !== d.inIndex.length) bad('decodeHead.inChannels', `has ${d.inChannels.length} entries, inIndex ${d.inIndex.length}`);
  for (const i of d.inIndex) if (i < 0 || i >= b.outIndices.length) bad('decodeHead.inIndex', `has ${i}, but there are ${b.outIndices.length} levels`);
  for (const c of d.inChannels) if (c !== b.embedDims) bad('decodeHead.inChannels', `has ${c}, but every Feature2Pyramid level has ${b.embedDims} channels`);
  const a = cfg.auxiliaryHead;
  if (a) {
    if (a.inIndex < 0 || a.inIndex >= b.outIndices.length) bad('auxiliaryHead.inIndex', `is ${a.inIndex}, but there are ${b.outIndices.length} levels`);
    if (a.inChannels !== b.embedDims) bad('auxiliaryHead.inChannels', `is ${a.inChannels}, but the level has ${b.embedDims} channels`);
    if (a.numConvs === 0 && a.inChannels !== a.channels) bad('auxiliaryHead.channels', `must equal inChannels when numConvs is 0`);
    if (a.kernelSize % 2 !== 1) bad('auxiliaryHead.kernelSize', `must be odd, got ${a.kernelSize}`);
  }
}
