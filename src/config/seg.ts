/**
 * The segmentation config (typed; authored as TS modules under configs/upernet, resolved to JSON in the work dir).
 * Mirrors mmseg's mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py: EncoderDecoder model, ADE20K pipelines,
 * AdamW with layer-wise lr decay, LinearLR warmup + PolyLR over an iteration budget, whole/slide test_cfg.
 */
import type { SegModelConfig } from '../models/seg/config.js';
import { validateSegConfig } from '../models/seg/config.js';
import type { TestCfg } from '../eval/slide.js';
import type { IoUMetricName } from '../metrics/iou.js';
import { applyOverrides, importConfig, validate, type Schema } from './load.js';
import { findConfigFile, resolveDataRoot } from './resolve.js';

export { resolveDataRoot };

export interface SegTrainPipelineConfig {
  /** RandomResize (long, short) scale before the ratio; mmseg (2048, 512). */
  scale: [number, number];
  ratioRange: [number, number];
  /** RandomCrop [h, w]; must equal the backbone input size. */
  cropSize: [number, number];
  catMaxRatio: number;
  flipProb: number;
  /** PhotoMetricDistortion with mmseg defaults. */
  photometric: boolean;
}

export interface SegDataConfig {
  /** ADE20K layout root (images/{training,validation}, annotations/...), optional meta.json. */
  root: string;
  trainSplit: 'training' | 'validation';
  valSplit: 'training' | 'validation';
  train: SegTrainPipelineConfig;
  /** Test Resize(scale, keep_ratio) (long, short); the label stays at the original resolution. */
  testScale: [number, number];
  mean: [number, number, number];
  std: [number, number, number];
  /** Samples decoded + transformed at once. */
  concurrency: number;
  /** Samples loaded ahead of the model. */
  prefetch: number;
}

export interface SegOptimConfig {
  type: 'AdamW';
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** mmseg LayerDecayOptimizerConstructor layer_decay_rate (num_layers = model.backbone.numLayers). */
  layerDecayRate: number;
}

export interface SegScheduleConfig {
  /** IterBasedTrainLoop max_iters (optimizer steps). */
  maxIters: number;
  /** LinearLR warmup length; then PolyLR to maxIters. */
  warmupIters: number;
  warmupStartFactor: number;
  power: number;
  etaMin: number;
}

export interface SegConfig {
  task: 'seg';
  model: SegModelConfig;
  data: SegDataConfig;
  testCfg: TestCfg;
  optim: SegOptimConfig;
  schedule: SegScheduleConfig;
  /** Images per step (mmseg: batch per GPU × GPUs). */
  batchSize: number;
  seed: number;
  workDir: string;
  checkpointName: string;
  /** MAE/MFF pretraining checkpoint for the backbone ('' = random init); `--backbone` sets it. */
  pretrained: string;
  /** IoUMetric iou_metrics. */
  evalMetrics: IoUMetricName[];
  /** Steps between validations (0 = only at the end). */
  valInterval: number;
  logInterval: number;
  /** Steps between resume-state saves. */
  checkpointInterval: number;
}

export { defineConfig } from './run.js';

export { DEFAULT_SEG_CONFIG } from './defaults.js';

const INT2 = { $array: 'integer', $len: 2 } as const;
const NUM2 = { $array: 'number', $len: 2 } as const;
const NUM3 = { $array: 'number', $len: 3 } as const;

const FCN_SCHEMA: Schema = {
  inChannels: 'integer', inIndex: 'integer', channels: 'integer', numConvs: 'integer', kernelSize: 'integer',
  concatInput: 'boolean', dropoutRatio: 'number', numClasses: 'integer', lossWeight: 'number',
};

export const SEG_SCHEMA: Schema = {
  task: ['seg'],
  model: {
    backbone: {
      imgSize: 'integer', patchSize: 'integer', inChannels: 'integer', embedDims: 'integer', numLayers: 'integer',
      numHeads: 'integer', mlpRatio: 'number', outIndices: { $array: 'integer' }, dropPathRate: 'number',
      initValues: 'number', lnEps: 'number', withCp: { $optional: 'boolean' }, frozenStages: { $optional: 'integer' },
    },
    neck: { rescales: { $array: 'number' } },
    decodeHead: {
      type: { $optional: ['uper', 'linear'] },
      inChannels: { $array: 'integer' }, inIndex: { $array: 'integer' }, channels: 'integer', poolScales: { $array: 'integer' },
      dropoutRatio: 'number', numClasses: 'integer', lossWeight: 'number',
    },
    auxiliaryHead: 'any', // FCN_SCHEMA or null, checked below
    ignoreIndex: 'integer',
    bnEps: 'number',
    bnMomentum: 'number',
  },
  data: {
    root: 'string',
    trainSplit: ['training', 'validation'],
    valSplit: ['training', 'validation'],
    train: { scale: INT2, ratioRange: NUM2, cropSize: INT2, catMaxRatio: 'number', flipProb: 'number', photometric: 'boolean' },
    testScale: INT2,
    mean: NUM3,
    std: NUM3,
    concurrency: 'integer',
    prefetch: 'integer',
  },
  testCfg: { $union: 'mode', variants: { whole: {}, slide: { crop: INT2, stride: INT2 } } },
  optim: { type: ['AdamW'], lr: 'number', betas: NUM2, eps: 'number', weightDecay: 'number', layerDecayRate: 'number' },
  schedule: { maxIters: 'integer', warmupIters: 'integer', warmupStartFactor: 'number', power: 'number', etaMin: 'number' },
  batchSize: 'integer',
  seed: 'integer',
  workDir: 'string',
  checkpointName: 'string',
  pretrained: 'string',
  evalMetrics: { $array: 'string' },
  valInterval: 'integer',
  logInterval: 'integer',
  checkpointInterval: 'integer',
};

/** Optional config keys that --cfg-options may set although a config leaves them out, with their types. */
const SEG_OPTIONAL_KEYS: Record<string, string> = { 'model.backbone.withCp': 'boolean', 'model.backbone.frozenStages': 'number', 'model.decodeHead.type': 'string' };

/** Schema + cross-field checks; every message starts with `file`. */
export function validateSegTaskConfig(cfg: unknown, file: string): SegConfig {
  validate(cfg, SEG_SCHEMA, file);
  const c = cfg as SegConfig;
  if (c.model.auxiliaryHead !== null) validate(c.model.auxiliaryHead, FCN_SCHEMA, file, 'config.model.auxiliaryHead');
  for (const m of c.evalMetrics) {
    if (!['mIoU', 'mDice', 'mFscore'].includes(m)) throw new Error(`${file}: evalMetrics: '${m}' is not one of mIoU, mDice, mFscore`);
  }
  try {
    validateSegConfig(c.model);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const S = c.model.backbone.imgSize;
  const [ch, cw] = c.data.train.cropSize;
  if (ch !== S || cw !== S) throw new Error(`${file}: data.train.cropSize [${ch}, ${cw}] must equal model.backbone.imgSize ${S} (the backbone takes exactly ${S}x${S})`);
  if (c.testCfg.mode === 'slide' && (c.testCfg.crop[0] !== S || c.testCfg.crop[1] !== S)) {
    throw new Error(`${file}: testCfg.crop [${c.testCfg.crop}] must equal model.backbone.imgSize ${S}`);
  }
  const s = c.schedule;
  if (s.maxIters < 1) throw new Error(`${file}: schedule.maxIters is ${s.maxIters}: a zero-length run trains nothing (it would only write an untrained checkpoint); set schedule.maxIters >= 1`);
  if (s.warmupIters < 0) throw new Error(`${file}: schedule.warmupIters must be >= 0, got ${s.warmupIters}`);
  if (s.warmupIters >= s.maxIters) {
    throw new Error(
      `${file}: schedule.warmupIters ${s.warmupIters} >= schedule.maxIters ${s.maxIters}: the whole run would be LinearLR warm-up ` +
        `(the lr never reaches its peak nor decays); lower it, e.g. --cfg-options schedule.warmupIters=${Math.floor(s.maxIters / 10)}`,
    );
  }
  for (const k of ['batchSize', 'logInterval', 'checkpointInterval'] as const) {
    if (c[k] < 1) throw new Error(`${file}: ${k} must be >= 1, got ${c[k]}`);
  }
  if (c.data.concurrency < 1) throw new Error(`${file}: data.concurrency must be >= 1, got ${c.data.concurrency}`);
  return c;
}

export interface SegFlags {
  data?: string;
  workDir?: string;
  backbone?: string;
  cfgOptions?: string[];
  /** `--frozen-backbone`: model.backbone.frozenStages = numLayers. */
  frozenBackbone?: boolean;
  /** `--head linear`: the frozen-feature probe head (model.decodeHead.type 'linear', no auxiliary head). */
  head?: 'uper' | 'linear';
}

/** Import a seg config file (cwd-relative, else package-relative), apply --cfg-options and flags, validate. */
export async function loadSegConfig(file: string, flags: SegFlags = {}): Promise<SegConfig> {
  const raw = await importConfig<Record<string, unknown>>(findConfigFile(file));
  if (raw.task !== 'seg') throw new Error(`${file}: not a segmentation config (task ${JSON.stringify(raw.task)}, expected 'seg')`);
  return finishSegConfig(raw, file, flags);
}

/** Overrides + validation for an already-loaded config object (e.g. the one stored in a checkpoint). */
export function finishSegConfig(raw: Record<string, unknown>, file: string, flags: SegFlags = {}): SegConfig {
  applyOverrides(raw, flags.cfgOptions ?? [], SEG_OPTIONAL_KEYS);
  const model = raw.model as SegModelConfig | undefined;
  if (model && flags.frozenBackbone) model.backbone.frozenStages = model.backbone.numLayers;
  if (model && flags.head) {
    if (flags.head !== 'uper' && flags.head !== 'linear') throw new Error(`--head: expected 'uper' or 'linear', got '${flags.head}'`);
    model.decodeHead.type = flags.head;
    if (flags.head === 'linear') model.auxiliaryHead = null;
  }
  const cfg = validateSegTaskConfig(raw, file);
  if (flags.data) cfg.data.root = flags.data;
  if (flags.workDir) cfg.workDir = flags.workDir;
  if (flags.backbone) cfg.pretrained = flags.backbone;
  cfg.data.root = resolveDataRoot(cfg.data.root);
  return cfg;
}
