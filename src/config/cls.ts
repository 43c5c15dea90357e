/**
 * The classification transfer config (fine-tune and linear probe), mirroring mmpretrain's
 * configs/mff/benchmarks: model (ImageClassifier), train/test pipelines, batch augments, loss, optimizer with
 * layer-wise lr decay (fine-tune) or LARS/SGD (linear), LinearLR warmup + cosine, effective batch = batchSize × accumSteps.
 */
import type { ClsModelConfig } from '../models/cls/classifier.js';
import { applyOverrides, importConfig, validate, type Schema } from './load.js';
import { findConfigFile, resolveDataRoot } from './resolve.js';
import { checkEpochSchedule, EPOCH_RUN_SCHEMA, type EpochRunConfig } from './run.js';

export { resolveDataRoot };

export type ClsTrainPipelineConfig =
  /** RRC(bicubic) -> flip -> RandAugment(rand-m9-mstd0.5-inc1) -> RandomErasing(erasingProb, 'rand'). */
  | { kind: 'finetune'; size: number; scale: [number, number]; flipProb: number; randAugment: boolean; erasingProb: number }
  /** MAERandomResizedCrop(bicubic) -> flip. */
  | { kind: 'linear'; size: number; scale: [number, number]; flipProb: number };

export interface ClsDataConfig {
  /** ImageNet layout root (`<root>/<split>/<class>/*`). */
  root: string;
  trainSplit: string;
  valSplit: string;
  trainPipeline: ClsTrainPipelineConfig;
  /** ResizeEdge(resize, short, interp) + CenterCrop(size); resize 0 = floor(size · 256/224). */
  testPipeline: { size: number; resize: number; interp: 'bilinear' | 'bicubic' };
  mean: [number, number, number];
  std: [number, number, number];
  concurrency: number;
  prefetch: number;
}

export interface ClsOptimConfig {
  type: 'AdamW' | 'LARS' | 'SGD';
  /** lr = baseLr × (batchSize × accumSteps) / 256 (fine-tune 5e-4 × 1024/256 = 2e-3; linear 0.1 × 16384/256 = 6.4). */
  baseLr: number;
  weightDecay: number;
  /** AdamW. */
  betas: [number, number];
  eps: number;
  /** LARS / SGD. */
  momentum: number;
  /** mmpretrain LearningRateDecayOptimWrapperConstructor layer_decay_rate (fine-tune; 1 = none). */
  layerDecayRate: number;
}

export interface ClsConfig extends EpochRunConfig {
  task: 'cls';
  /** numClasses 0 = the number of class folders in the training split. */
  model: ClsModelConfig;
  /** Backbone checkpoint (pretraining or classifier) loaded with prefix 'backbone.'; '' = from scratch. */
  pretrained: string;
  data: ClsDataConfig;
  /** Mixup / CutMix alphas for RandomBatchAugment (one picked per batch); 0 disables that augment. */
  batchAugments: { mixupAlpha: number; cutmixAlpha: number };
  /** LabelSmoothLoss label_smooth_val; 0 = plain CrossEntropyLoss. */
  labelSmooth: number;
  optim: ClsOptimConfig;
  schedule: { epochs: number; warmupEpochs: number; warmupStartFactor: number; etaMin: number };
  /** Epochs between validations (the last epoch is always validated); 0 = only at the end. */
  evalInterval: number;
}

const SIZE_PAIR = { $array: 'number', $len: 2 } as const;

export const CLS_SCHEMA: Schema = {
  task: ['cls'],
  model: {
    mode: ['finetune', 'linear'],
    arch: 'any',
    imgSize: 'integer',
    patchSize: 'integer',
    inChannels: { $optional: 'integer' },
    numClasses: 'integer',
    dropPathRate: { $optional: 'number' },
    lnEps: { $optional: 'number' },
    bnEps: { $optional: 'number' },
    bnMomentum: { $optional: 'number' },
    headInitStd: { $optional: 'number' },
  },
  pretrained: 'string',
  data: {
    root: 'string',
    trainSplit: 'string',
    valSplit: 'string',
    trainPipeline: {
      $union: 'kind',
      variants: {
        finetune: { size: 'integer', scale: SIZE_PAIR, flipProb: 'number', randAugment: 'boolean', erasingProb: 'number' },
        linear: { size: 'integer', scale: SIZE_PAIR, flipProb: 'number' },
      },
    },
    testPipeline: { size: 'integer', resize: 'integer', interp: ['bilinear', 'bicubic'] },
    mean: { $array: 'number', $len: 3 },
    std: { $array: 'number', $len: 3 },
    concurrency: 'integer',
    prefetch: 'integer',
  },
  batchAugments: { mixupAlpha: 'number', cutmixAlpha: 'number' },
  labelSmooth: 'number',
  optim: {
    type: ['AdamW', 'LARS', 'SGD'],
    baseLr: 'number',
    weightDecay: 'number',
    betas: { $array: 'number', $len: 2 },
    eps: 'number',
    momentum: 'number',
    layerDecayRate: 'number',
  },
  ...EPOCH_RUN_SCHEMA,
  evalInterval: 'integer',
};

export const CLS_OPTIONAL_KEYS: Record<string, string> = {
  'model.dropPathRate': 'number',
  'model.lnEps': 'number',
  'model.bnEps': 'number',
  'model.bnMomentum': 'number',
  'model.headInitStd': 'number',
  'model.inChannels': 'number',
};

export function validateClsConfig(cfg: unknown, file: string): ClsConfig {
  validate(cfg, CLS_SCHEMA, file);
  const c = cfg as ClsConfig;
  const { mode, imgSize } = c.model;
  if (c.data.trainPipeline.kind !== mode) throw new Error(`${file}: data.trainPipeline.kind '${c.data.trainPipeline.kind}' must equal model.mode '${mode}'`);
  for (const [k, v] of [['data.trainPipeline.size', c.data.trainPipeline.size], ['data.testPipeline.size', c.data.testPipeline.size]] as const) {
    if (v !== imgSize) throw new Error(`${file}: ${k} ${v} must equal model.imgSize ${imgSize}`);
  }
  if (c.batchSize < 1 || c.accumSteps < 1) throw new Error(`${file}: batchSize and accumSteps must be >= 1`);
  if (mode === 'linear' && c.batchSize < 2) throw new Error(`${file}: linear probing needs batchSize >= 2 (BatchNorm neck)`);
  if (!(c.labelSmooth >= 0 && c.labelSmooth < 1)) throw new Error(`${file}: labelSmooth must be in [0, 1), got ${c.labelSmooth}`);
  if (c.model.numClasses < 0) throw new Error(`${file}: model.numClasses must be >= 0 (0 = from the dataset), got ${c.model.numClasses}`);
  if (mode === 'linear' && c.optim.type === 'AdamW' && c.optim.layerDecayRate !== 1) {
    throw new Error(`${file}: layer-wise lr decay applies to fine-tuning only (model.mode 'linear', optim.layerDecayRate ${c.optim.layerDecayRate})`);
  }
  checkEpochSchedule(c, file);
  return c;
}

export { DEFAULT_CLS_CONFIGS } from './defaults.js';

export interface ClsFlags {
  data?: string;
  workDir?: string;
  /** --backbone: overrides `pretrained`. */
  backbone?: string;
  /** --mode: must agree with the config's model.mode. */
  mode?: string;
  cfgOptions?: string[];
}

export async function loadClsConfig(file: string, flags: ClsFlags = {}): Promise<ClsConfig> {
  const raw = await importConfig<Record<string, unknown>>(findConfigFile(file));
  applyOverrides(raw, flags.cfgOptions ?? [], CLS_OPTIONAL_KEYS);
  const cfg = validateClsConfig(raw, file);
  if (flags.mode && flags.mode !== cfg.model.mode) {
    throw new Error(`--mode ${flags.mode} does not match ${file}, a '${cfg.model.mode}' config (drop --mode or pick a ${flags.mode} config)`);
  }
  if (flags.data) cfg.data.root = flags.data;
  if (flags.workDir) cfg.workDir = flags.workDir;
  if (flags.backbone !== undefined) cfg.pretrained = flags.backbone;
  cfg.data.root = resolveDataRoot(cfg.data.root);
  return cfg;
}

/**
 * A classification backbone comes from a pretraining (mff pretrain) or classifier (mff cls-train) checkpoint, or a
 * bare mmpretrain state dict; a segmentation checkpoint is refused naming its task (not as a wrong model.arch).
 */
export function checkBackboneTask(file: string, meta: { task?: unknown } | null): void {
  if (meta && meta.task !== 'pretrain' && meta.task !== 'cls') {
    throw new Error(
      `${file}: a '${String(meta.task)}' checkpoint${meta.task === 'seg' ? ' (mff seg-train: UperNet with a BEiT-style backbone)' : ''}; ` +
        '--backbone takes a pretraining checkpoint (mff pretrain), a classifier (mff cls-train) or an mmpretrain state dict',
    );
  }
}

/**
 * With no --config, the backbone checkpoint's own metadata fixes the ViT (arch, image size, patch size), so
 * `mff cls-train --backbone X --mode finetune` fits any checkpoint mff wrote. Returns a line describing the change,
 * or null when the checkpoint carries no model config (a bare state dict: the config's ViT is used).
 */
export function adoptBackboneModel(cfg: ClsConfig, meta: { task?: unknown; config?: unknown } | null): string | null {
  checkBackboneTask(cfg.pretrained, meta);
  const m = (meta?.config as { model?: Record<string, unknown> } | undefined)?.model;
  if (!m || m.arch === undefined || typeof m.imgSize !== 'number' || typeof m.patchSize !== 'number') return null;
  cfg.model.arch = m.arch as ClsConfig['model']['arch'];
  cfg.model.imgSize = m.imgSize;
  cfg.model.patchSize = m.patchSize;
  if (typeof m.inChannels === 'number') cfg.model.inChannels = m.inChannels;
  cfg.data.trainPipeline.size = m.imgSize;
  cfg.data.testPipeline = { ...cfg.data.testPipeline, size: m.imgSize, resize: 0 };
  const arch = typeof m.arch === 'string' ? m.arch : JSON.stringify(m.arch);
  return `model from the backbone checkpoint's ${String(meta?.task)} config: arch ${arch}, ${m.imgSize} px, patch ${m.patchSize}`;
}
