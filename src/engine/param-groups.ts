/**
 * Per-parameter optimiser settings {lrScale, weightDecay}, as the OpenMMLab optim-wrapper constructors build them:
 *   pretrainParamGroups          mmengine DefaultOptimWrapperConstructor + mmpretrain MAE/MFF custom_keys
 *   mmpretrainLayerDecayGroups   mmpretrain LearningRateDecayOptimWrapperConstructor (fine-tune benchmark)
 *   mmsegLayerDecayGroups        mmseg LayerDecayOptimizerConstructor (decay_type 'layer_wise_vit')
 * Names are PyTorch state_dict names; pass trainable parameters only (mmengine skips requires_grad=False).
 */

export interface ParamGroup {
  lrScale: number;
  /** Absolute weight decay (base weight decay × decay_mult). */
  weightDecay: number;
}

export interface LayerDecayGroup extends ParamGroup {
  layerId: number;
  /** baseLr · lrScale, the initial lr of the group. */
  lr: number;
}

export type CustomKeys = Record<string, { decayMult?: number }>;

/** mmpretrain MAE/MFF pretraining custom_keys: substring matches, all decay_mult 0. */
export const PRETRAIN_NO_DECAY_KEYS = ['ln', 'bias', 'pos_embed', 'mask_token', 'cls_token'];

/** mmengine orders custom keys alphabetically, then by length (longest first, stable); the first substring hit wins. */
function sortedKeys(keys: string[]): string[] {
  return [...keys].sort().sort((a, b) => b.length - a.length);
}

/**
 * Pretraining groups: names containing one of `noDecayKeys` (substring, as mmengine custom_keys) get weight decay 0,
 * all others `weightDecay` (so backbone.proj_weights is decayed). lrScale is 1 everywhere.
 */
export function pretrainParamGroups(
  names: string[],
  opts: { weightDecay: number; noDecayKeys?: string[] },
): Map<string, ParamGroup> {
  const { weightDecay, noDecayKeys = PRETRAIN_NO_DECAY_KEYS } = opts;
  const out = new Map<string, ParamGroup>();
  for (const name of names) {
    const noDecay = noDecayKeys.some((k) => name.includes(k));
    out.set(name, { lrScale: 1, weightDecay: noDecay ? 0 : weightDecay });
  }
  return out;
}

/** Default norm-layer test for names: the module holding the parameter is ln*, norm*, bn*, gn* (mmpretrain/mmseg naming). */
export function isNormParam(name: string): boolean {
  const parts = name.split('.');
  const module = parts.length >= 2 ? parts[parts.length - 2] : '';
  return /^(ln\d*|norm\d*|bn\d*|gn\d*)$/.test(module);
}

function shapeOf(shapes: Map<string, number[]>, name: string): number[] {
  const s = shapes.get(name);
  if (!s) throw new Error(`layer-decay groups: no shape given for parameter '${name}'`);
  return s;
}

/**
 * mmpretrain VisionTransformer.get_layer_depth (called by ImageClassifier with prefix 'backbone.'):
 * 0 for cls_token / pos_embed / patch_embed.*, i+1 for layers.i.*, numLayers+1 for everything else (ln2, head).
 */
export function mmpretrainLayerDepth(name: string, numLayers: number, prefix = 'backbone.'): number {
  const maxId = numLayers + 2;
  if (!name.startsWith(prefix)) return maxId - 1;
  const rest = name.slice(prefix.length);
  if (rest === 'cls_token' || rest === 'pos_embed' || rest.startsWith('patch_embed')) return 0;
  if (rest.startsWith('layers')) {
    const i = Number(rest.split('.')[1]);
    if (!Number.isInteger(i)) throw new Error(`layer-decay groups: cannot read the block index of '${name}'`);
    return i + 1;
  }
  return maxId - 1;
}

/**
 * mmpretrain LearningRateDecayOptimWrapperConstructor. Weight decay, in order of precedence: the first matching
 * custom key (decay_mult), norm layers (normDecayMult), a parameter named 'bias' (biasDecayMult), 1-D parameters
 * (flatDecayMult), else weightDecay. lrScale = layerDecayRate ** (numLayers + 1 − layerId).
 */
export function mmpretrainLayerDecayGroups(
  names: string[],
  shapes: Map<string, number[]>,
  opts: {
    numLayers: number;
    layerDecayRate: number;
    weightDecay: number;
    baseLr: number;
    normDecayMult?: number;
    biasDecayMult?: number;
    flatDecayMult?: number;
    customKeys?: CustomKeys;
    isNorm?: (name: string) => boolean;
  },
): Map<string, LayerDecayGroup> {
  const { numLayers, layerDecayRate, weightDecay, baseLr, normDecayMult, biasDecayMult, flatDecayMult, customKeys = {}, isNorm = isNormParam } = opts;
  const keys = sortedKeys(Object.keys(customKeys));
  const maxId = numLayers + 2;
  const out = new Map<string, LayerDecayGroup>();
  for (const name of names) {
    const key = keys.find((k) => name.includes(k));
    let wd: number;
    if (key !== undefined) wd = weightDecay * (customKeys[key].decayMult ?? 1);
    else if (isNorm(name) && normDecayMult !== undefined) wd = weightDecay * normDecayMult;
    else if (name.split('.').pop() === 'bias' && biasDecayMult !== undefined) wd = weightDecay * biasDecayMult;
    else if (shapeOf(shapes, name).length === 1 && flatDecayMult !== undefined) wd = weightDecay * flatDecayMult;
    else wd = weightDecay;
    const layerId = mmpretrainLayerDepth(name, numLayers);
    const lrScale = layerDecayRate ** (maxId - layerId - 1);
    out.set(name, { lrScale, weightDecay: wd, layerId, lr: baseLr * lrScale });
  }
  return out;
}

/**
 * mmseg get_layer_id_for_vit: 0 for backbone.{cls_token,mask_token,pos_embed} and backbone.patch_embed.*,
 * i+1 for backbone.layers.i.*, numLayers+1 for the neck and the heads.
 */
export function mmsegLayerId(name: string, numLayers: number): number {
  const maxId = numLayers + 2;
  if (name === 'backbone.cls_token' || name === 'backbone.mask_token' || name === 'backbone.pos_embed') return 0;
  if (name.startsWith('backbone.patch_embed')) return 0;
  if (name.startsWith('backbone.layers')) {
    const i = Number(name.split('.')[2]);
    if (!Number.isInteger(i)) throw new Error(`layer-decay groups: cannot read the block index of '${name}'`);
    return i + 1;
  }
  return maxId - 1;
}

/**
 * mmseg LayerDecayOptimizerConstructor: weight decay 0 for 1-D parameters and names ending in '.bias', else
 * weightDecay. mmseg's exemption for 'pos_embed'/'cls_token' compares full names ('backbone.pos_embed') and so
 * never fires: pos_embed, cls_token and relative_position_bias_table ARE decayed. lrScale = rate ** (numLayers + 1 − layerId).
 */
export function mmsegLayerDecayGroups(
  names: string[],
  shapes: Map<string, number[]>,
  opts: { numLayers: number; layerDecayRate: number; weightDecay: number; baseLr: number },
): Map<string, LayerDecayGroup> {
  const { numLayers, layerDecayRate, weightDecay, baseLr } = opts;
  const maxId = numLayers + 2;
  const out = new Map<string, LayerDecayGroup>();
  for (const name of names) {
    const noDecay = shapeOf(shapes, name).length === 1 || name.endsWith('.bias') || name === 'pos_embed' || name === 'cls_token';
    const layerId = mmsegLayerId(name, numLayers);
    const lrScale = layerDecayRate ** (maxId - layerId - 1);
    out.set(name, { lrScale, weightDecay: noDecay ? 0 : weightDecay, layerId, lr: baseLr * lrScale });
  }
  return out;
}

/** Convert a mmpretrain paramwise_cfg / custom_keys dict (snake_case, as in the configs) to CustomKeys. */
export function customKeysFromMm(d: Record<string, { decay_mult?: number }>): CustomKeys {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, { decayMult: v.decay_mult }]));
}
