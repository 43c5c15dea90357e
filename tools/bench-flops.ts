/**
 * Model FLOPs per image for `npm run bench`'s achieved-GFLOP/s figures: the matmuls only (linears, attention
 * scores and values, convolutions and transposed convolutions, each 2·m·n·k), counted from the model's
 * dimensions. Norms, activations, softmax, resizes, pooling, the loss and the optimizer update are elementwise and left
 * out, like a GEMM peak leaves them out. A training step is counted as 3 × forward (the backward of every matmul is
 * two matmuls of the same size: the gradient of the input and of the weight) — the usual model-FLOPs convention;
 * recomputation under activation checkpointing (withCp) is not model work and is not counted.
 *
 * Checked against PyTorch's own count of the real models (torch 1.13 profiler `with_flops`, aten::conv2d + addmm + bmm;
 * it does not count aten::conv_transpose2d, which is added by hand for Feature2Pyramid):
 *   bench config P, mmpretrain MFF forward: 303 119 360 per image = pretrainFlops(P).forward exactly;
 *   bench config S, mmseg EncoderDecoder: loss() forward 10 198 262 784 + conv-transpose, encode_decode 10 141 279 232 +
 *   conv-transpose per image = segFlops(S) exactly (test/benchmark/bench-flops.test.ts).
 */

import { resolveArch } from '../src/models/arch.js';
import { resolveOutIndices, type PretrainModelConfig } from '../src/models/mae.js';

/** One [m, k] × [k, n] matmul: m·n multiply-adds = 2·m·n·k FLOPs. */
export const mm = (m: number, n: number, k: number): number => 2 * m * n * k;

/**
 * One pre-norm transformer block over T tokens of width D with an F-wide MLP: qkv (D → 3D), the attention
 * scores Q·Kᵀ and the weighted values A·V (T × T × D each, summed over the heads: the head count does not matter),
 * the output projection (D → D), fc1 (D → F) and fc2 (F → D).
 */
export function blockFlops(T: number, D: number, F: number): number {
  return mm(T, 3 * D, D) + 2 * mm(T, T, D) + mm(T, D, D) + mm(T, F, D) + mm(T, D, F);
}

export interface PretrainFlopsDims {
  imgSize: number;
  patchSize: number;
  inChannels: number;
  embedDims: number;
  numLayers: number;
  feedforwardChannels: number;
  maskRatio: number;
  /** MFF taps; every tap but the last has a D → D projection (mmpretrain MFFViT.proj_layers). MAE: [numLayers - 1]. */
  outIndices: number[];
  decoder: { embedDims: number; depth: number; feedforwardChannels: number };
}

export interface FlopsCount {
  /** One forward pass, per image. */
  forward: number;
  /** One training step (forward + backward), per image: 3 × forward. */
  train: number;
  /** The forward's parts (per image), for reading the count. */
  parts: Record<string, number>;
}

/**
 * mmpretrain MAE / MFF pretraining, per image. L = (imgSize / patchSize)² patches; the patch embedding (a conv with
 * kernel = stride = patch, i.e. one [L, 3p²] × [3p², D] matmul) runs on all L patches before the masking; the encoder
 * runs on lenKeep = trunc(L·(1 − maskRatio)) visible tokens + the cls token; the decoder embeds them (D → Dd), appends
 * the mask tokens and runs over L + 1 tokens; its prediction head (Dd → 3p²) runs on all L + 1 tokens (the cls row is
 * dropped afterwards).
 *
 * Config P (192-d × 12, 32 px, patch 4: L = 64, 16 visible + cls = 17 tokens; 5 MFF projections; decoder 128-d × 4 over
 * 65 tokens): forward 303 119 360 = 0.303 GFLOP, trained 0.909 GFLOP per image. The "≈ 0.87 GFLOP" is 4 %
 * lower: it is what this count gives without the attention score/value matmuls (0.875), or with 16 encoder tokens (no
 * cls, 0.875). Both are in the real model: the PyTorch profiler of mmpretrain's MFF shows the 0.0113 GFLOP of
 * attention bmm per image and an encoder over 17 tokens, and its total equals this forward count to the FLOP.
 */
export function pretrainFlops(d: PretrainFlopsDims): FlopsCount {
  const L = (d.imgSize / d.patchSize) ** 2;
  const P = d.inChannels * d.patchSize ** 2;
  const T = Math.trunc(L * (1 - d.maskRatio)) + 1;
  const D = d.embedDims;
  const Dd = d.decoder.embedDims;
  const parts = {
    patch_embed: mm(L, D, P),
    encoder: d.numLayers * blockFlops(T, D, d.feedforwardChannels),
    mff_proj: (d.outIndices.length - 1) * mm(T, D, D),
    decoder_embed: mm(T, Dd, D),
    decoder: d.decoder.depth * blockFlops(L + 1, Dd, d.decoder.feedforwardChannels),
    decoder_pred: mm(L + 1, P, Dd),
  };
  const forward = Object.values(parts).reduce((a, b) => a + b, 0);
  return { forward, train: 3 * forward, parts };
}

/** The dims of a pretraining model config (src/config/pretrain.ts `model`), as buildPretrainModel resolves them. */
export function pretrainFlopsDims(m: PretrainModelConfig): PretrainFlopsDims {
  const arch = resolveArch(m.arch);
  return {
    imgSize: m.imgSize, patchSize: m.patchSize, inChannels: m.inChannels, embedDims: arch.embedDims, numLayers: arch.numLayers,
    feedforwardChannels: arch.feedforwardChannels, maskRatio: m.maskRatio, outIndices: resolveOutIndices(m, arch.numLayers),
    decoder: { embedDims: m.decoder.embedDims, depth: m.decoder.depth, feedforwardChannels: m.decoder.feedforwardChannels ?? 4 * m.decoder.embedDims },
  };
}

/** The fields of the seg model config (src/models/seg/config.ts SegModelConfig) that the count needs. */
export interface SegFlopsDims {
  backbone: { imgSize: number; patchSize: number; inChannels: number; embedDims: number; numLayers: number; mlpRatio: number };
  neck: { rescales: number[] };
  decodeHead: { type?: string; inChannels: number[]; inIndex: number[]; channels: number; poolScales: number[]; numClasses: number };
  auxiliaryHead: { inChannels: number; inIndex: number; channels: number; numConvs: number; kernelSize: number; concatInput: boolean; numClasses: number } | null;
}

/**
 * mmseg EncoderDecoder (MAE/BEiT backbone → Feature2Pyramid → UPerHead [+ FCNHead aux]), per image at the backbone's
 * imgSize. Backbone: patch-embed conv, blocks over g² + 1 tokens (g = imgSize / patch; the relative position bias is
 * an add). Feature2Pyramid: level i has size g·rescales[i]; ×4 is two ConvTranspose2d(k 2, s 2) D → D (each output
 * pixel: one input pixel × D), ×2 one, ×1 nothing, ×0.5 / ×0.25 a max-pool. UPerHead (C channels): PSP on the
 * last level (1×1 D → C per pool scale s at s² pixels, then a 3×3 (D + n·C) → C bottleneck), 1×1 lateral D → C and
 * 3×3 C → C fpn convs on the other levels, the 3×3 (levels·C) → C fpn bottleneck and the 1×1 C → classes at the finest
 * level. FCN aux (train only): numConvs k×k convs at its level, then 1×1 → classes. `train` = 3 × the train forward
 * (with the aux head if any); `forward` is encode_decode (no aux head).
 */
export function segFlops(m: SegFlopsDims): FlopsCount & { trainForward: number } {
  const b = m.backbone;
  const h = m.decodeHead;
  if (h.type && h.type !== 'uper') throw new Error(`segFlops: decodeHead.type '${h.type}' is not counted (UPerHead only)`);
  const D = b.embedDims;
  const g = b.imgSize / b.patchSize;
  const T = g * g + 1;
  const px = (r: number) => (g * r) ** 2; // pixels of a level rescaled by r
  const C = h.channels;
  const levels = m.neck.rescales;
  const deconv = levels.reduce((s, r) => s + (r === 4 ? mm(px(2), D, D) + mm(px(4), D, D) : r === 2 ? mm(px(2), D, D) : 0), 0);
  const sel = h.inIndex.map((i) => levels[i]); // the levels UPerHead reads, finest first
  const last = sel[sel.length - 1];
  const cin = h.inChannels;
  const psp = h.poolScales.reduce((s, q) => s + mm(q * q, C, cin[cin.length - 1]), 0) + mm(px(last), C, 9 * (cin[cin.length - 1] + h.poolScales.length * C));
  let fpn = 0;
  for (let i = 0; i < sel.length - 1; i++) fpn += mm(px(sel[i]), C, cin[i]) + mm(px(sel[i]), C, 9 * C);
  const finest = px(sel[0]);
  const parts: Record<string, number> = {
    patch_embed: mm(g * g, D, b.inChannels * b.patchSize ** 2),
    backbone: b.numLayers * blockFlops(T, D, b.mlpRatio * D),
    neck: deconv,
    head_psp: psp,
    head_fpn: fpn,
    head_fpn_bottleneck: mm(finest, C, 9 * sel.length * C),
    head_cls: mm(finest, h.numClasses, C),
  };
  const forward = Object.values(parts).reduce((a, c) => a + c, 0);
  let aux = 0;
  const a = m.auxiliaryHead;
  if (a) {
    if (a.concatInput) throw new Error('segFlops: FCN aux concatInput is not counted');
    const n = px(levels[a.inIndex]);
    const k2 = a.kernelSize ** 2;
    for (let i = 0; i < a.numConvs; i++) aux += mm(n, a.channels, k2 * (i === 0 ? a.inChannels : a.channels));
    aux += mm(n, a.numClasses, a.numConvs > 0 ? a.channels : a.inChannels);
    parts.aux_head = aux;
  }
  return { forward, trainForward: forward + aux, train: 3 * (forward + aux), parts };
}
