/**
 * The mmpretrain config of an mff run: MAE/MFF pretraining (configs/mae, configs/mff) or the classification
 * benchmarks (configs/mff/benchmarks: fine-tune, linear probe), written out whole (no _base_) so it runs with
 * `tools/dist_train.sh` / `torchrun tools/train.py` of mmpretrain 1.x. Field names follow the upstream configs.
 */
import type { PretrainConfig } from '../config/pretrain.js';
import type { ClsConfig } from '../config/cls.js';
import { resolveArch } from '../models/arch.js';
import { archDict, envCfg, epochCosine, perGpuBatch, rgb, type ExportTarget } from './common.js';
import { fl, tuple } from './py.js';

const runtime = (logInterval: number, seed: number, loadFrom: string | null, checkpoint: Record<string, unknown>): [string, unknown][] => [
  ['default_scope', 'mmpretrain'],
  ['default_hooks', {
    timer: { type: 'IterTimerHook' }, logger: { type: 'LoggerHook', interval: logInterval }, param_scheduler: { type: 'ParamSchedulerHook' },
    checkpoint, sampler_seed: { type: 'DistSamplerSeedHook' }, visualization: { type: 'VisualizationHook', enable: false },
  }],
  ['env_cfg', envCfg()],
  ['vis_backends', [{ type: 'LocalVisBackend' }]],
  ['visualizer', { type: 'UniversalVisualizer', vis_backends: [{ type: 'LocalVisBackend' }] }],
  ['log_level', 'INFO'],
  ['load_from', loadFrom],
  ['resume', false],
  ['randomness', { seed, diff_rank_seed: true }],
];

/** Image folders (<root>/<split>/<class>/*) as mmpretrain's CustomDataset reads them; an ann file when the run used one. */
const folderDataset = (root: string, split: string, pipeline: unknown, annFile?: string) =>
  ({ type: 'CustomDataset', data_root: root, data_prefix: split, ...(annFile ? { ann_file: annFile } : {}), pipeline });

export function pretrainToMmpretrain(cfg: PretrainConfig, t: ExportTarget): [string, unknown][] {
  const m = cfg.model;
  const arch = resolveArch(m.arch);
  const D = arch.embedDims;
  const grid = m.imgSize / m.patchSize;
  const effective = cfg.batchSize * cfg.accumSteps;
  const p = cfg.data.pipeline;
  const pipeline = p.kind === 'simple-resized-crop'
    ? [
        { type: 'LoadImageFromFile' },
        { type: 'ToPIL', to_rgb: true },
        { type: 'torchvision/Resize', size: p.size, ...(p.interp === 'bicubic' ? { interpolation: 'bicubic' } : {}) },
        { type: 'torchvision/RandomCrop', size: p.size, padding: p.padding, padding_mode: 'reflect' },
        ...(p.flip ? [{ type: 'torchvision/RandomHorizontalFlip', p: fl(0.5) }] : []),
        { type: 'ToNumpy', to_bgr: true },
        { type: 'PackInputs' },
      ]
    : [
        { type: 'LoadImageFromFile' },
        { type: 'RandomResizedCrop', scale: p.size, crop_ratio_range: tuple(...p.scale.map(fl)), backend: 'pillow', interpolation: p.interp },
        ...(p.flip ? [{ type: 'RandomFlip', prob: fl(0.5) }] : []),
        { type: 'PackInputs' },
      ];
  const mff = m.algorithm === 'mff';
  return [
    ['model', {
      type: mff ? 'MFF' : 'MAE',
      backbone: {
        type: mff ? 'MFFViT' : 'MAEViT', arch: archDict(m.arch), img_size: m.imgSize, patch_size: m.patchSize, mask_ratio: fl(m.maskRatio),
        ...(mff ? { out_indices: [...m.outIndices] } : {}), norm_cfg: { type: 'LN', eps: fl(m.lnEps) },
        ...(m.inChannels !== 3 ? { patch_cfg: { in_channels: m.inChannels } } : {}),
      },
      neck: {
        type: 'MAEPretrainDecoder', num_patches: grid * grid, patch_size: m.patchSize, in_chans: m.inChannels, embed_dim: D,
        decoder_embed_dim: m.decoder.embedDims, decoder_depth: m.decoder.depth, decoder_num_heads: m.decoder.numHeads,
        mlp_ratio: fl((m.decoder.feedforwardChannels ?? 4 * m.decoder.embedDims) / m.decoder.embedDims), norm_cfg: { type: 'LN', eps: fl(m.lnEps) },
      },
      head: { type: 'MAEPretrainHead', norm_pix: m.normPix, patch_size: m.patchSize, loss: { type: 'PixelReconstructionLoss', criterion: 'L2' } },
      init_cfg: [{ type: 'Xavier', layer: 'Linear', distribution: 'uniform' }, { type: 'Constant', layer: 'LayerNorm', val: 1.0, bias: 0.0 }],
    }],
    ['data_preprocessor', { type: 'SelfSupDataPreprocessor', mean: rgb(cfg.data.mean), std: rgb(cfg.data.std), to_rgb: true }],
    ['train_pipeline', pipeline],
    ['train_dataloader', {
      batch_size: perGpuBatch(effective, t.gpus, 'batchSize × accumSteps'), num_workers: cfg.data.concurrency, persistent_workers: true,
      sampler: { type: 'DefaultSampler', shuffle: true }, collate_fn: { type: 'default_collate' },
      dataset: folderDataset(cfg.data.root, cfg.data.split, pipeline, cfg.data.annFile),
    }],
    ['optim_wrapper', {
      type: 'OptimWrapper',
      optimizer: { type: 'AdamW', lr: fl((cfg.optim.baseLr * effective) / 256), betas: tuple(...cfg.optim.betas.map(fl)), eps: fl(cfg.optim.eps), weight_decay: fl(cfg.optim.weightDecay) },
      paramwise_cfg: { custom_keys: { ln: { decay_mult: 0.0 }, bias: { decay_mult: 0.0 }, pos_embed: { decay_mult: 0.0 }, mask_token: { decay_mult: 0.0 }, cls_token: { decay_mult: 0.0 } } },
    }],
    ['param_scheduler', epochCosine(cfg.schedule)],
    ['train_cfg', { type: 'EpochBasedTrainLoop', max_epochs: cfg.schedule.epochs }],
    ['auto_scale_lr', { base_batch_size: effective }],
    ...runtime(cfg.logInterval, cfg.seed, t.loadFrom, { type: 'CheckpointHook', interval: 1, max_keep_ckpts: 3 }),
  ];
}

/**
 * `backboneFrom`: converted pretraining weights loaded into the backbone (init_cfg Pretrained, prefix 'backbone.'),
 * as the benchmark configs do; else the run's own `pretrained` when set.
 */
export function clsToMmpretrain(cfg: ClsConfig, numClasses: number, t: ExportTarget & { backboneFrom?: string | null }): [string, unknown][] {
  const m = cfg.model;
  const D = resolveArch(m.arch).embedDims;
  const linear = m.mode === 'linear';
  const effective = cfg.batchSize * cfg.accumSteps;
  const tp = cfg.data.trainPipeline;
  const trainPipeline = tp.kind === 'finetune'
    ? [
        { type: 'LoadImageFromFile' },
        { type: 'RandomResizedCrop', scale: tp.size, crop_ratio_range: tuple(...tp.scale.map(fl)), backend: 'pillow', interpolation: 'bicubic' },
        { type: 'RandomFlip', prob: fl(tp.flipProb), direction: 'horizontal' },
        ...(tp.randAugment ? [{
          type: 'RandAugment', policies: 'timm_increasing', num_policies: 2, total_level: 10, magnitude_level: 9, magnitude_std: 0.5,
          hparams: { pad_val: [104, 116, 124], interpolation: 'bicubic' },
        }] : []),
        ...(tp.erasingProb > 0 ? [{
          type: 'RandomErasing', erase_prob: fl(tp.erasingProb), mode: 'rand', min_area_ratio: 0.02, max_area_ratio: 1 / 3,
          fill_color: [...cfg.data.mean].reverse(), fill_std: [...cfg.data.std].reverse(),
        }] : []),
        { type: 'PackInputs' },
      ]
    : [
        { type: 'LoadImageFromFile' },
        { type: 'ToPIL', to_rgb: true },
        { type: 'MAERandomResizedCrop', size: tp.size, scale: tuple(...tp.scale.map(fl)), interpolation: 3 },
        { type: 'torchvision/RandomHorizontalFlip', p: fl(tp.flipProb) },
        { type: 'ToNumpy', to_bgr: true },
        { type: 'PackInputs' },
      ];
  const te = cfg.data.testPipeline;
  const testPipeline = [
    { type: 'LoadImageFromFile' },
    { type: 'ResizeEdge', scale: te.resize > 0 ? te.resize : Math.floor((te.size * 256) / 224), edge: 'short', backend: 'pillow', interpolation: te.interp },
    { type: 'CenterCrop', crop_size: te.size },
    { type: 'PackInputs' },
  ];
  const backboneFrom = t.backboneFrom ?? (cfg.pretrained || null);
  const lnEps = m.lnEps ?? 1e-6;
  const backbone = {
    type: 'VisionTransformer', arch: archDict(m.arch), img_size: m.imgSize, patch_size: m.patchSize,
    ...((m.inChannels ?? 3) !== 3 ? { in_channels: m.inChannels } : {}),
    drop_path_rate: fl(m.dropPathRate ?? (linear ? 0 : 0.1)), norm_cfg: { type: 'LN', eps: fl(lnEps) },
    ...(linear ? { frozen_stages: resolveArch(m.arch).numLayers, out_type: 'cls_token', final_norm: true } : { out_type: 'avg_featmap', final_norm: false }),
    ...(backboneFrom ? { init_cfg: { type: 'Pretrained', checkpoint: backboneFrom, prefix: 'backbone.' } } : {}),
  };
  const loss = linear || cfg.labelSmooth === 0 ? { type: 'CrossEntropyLoss' } : { type: 'LabelSmoothLoss', label_smooth_val: fl(cfg.labelSmooth), mode: 'original' };
  const augments = [
    ...(cfg.batchAugments.mixupAlpha > 0 ? [{ type: 'Mixup', alpha: fl(cfg.batchAugments.mixupAlpha) }] : []),
    ...(cfg.batchAugments.cutmixAlpha > 0 ? [{ type: 'CutMix', alpha: fl(cfg.batchAugments.cutmixAlpha) }] : []),
  ];
  const o = cfg.optim;
  const lr = fl((o.baseLr * effective) / 256);
  const optimizer = o.type === 'AdamW'
    ? { type: 'AdamW', lr, weight_decay: fl(o.weightDecay), betas: tuple(...o.betas.map(fl)), eps: fl(o.eps) }
    : { type: o.type, lr, weight_decay: fl(o.weightDecay), momentum: fl(o.momentum) };
  const optimWrapper: Record<string, unknown> = o.type === 'AdamW' && o.layerDecayRate !== 1
    ? {
        type: 'OptimWrapper', optimizer, constructor: 'LearningRateDecayOptimWrapperConstructor',
        paramwise_cfg: { layer_decay_rate: fl(o.layerDecayRate), custom_keys: { '.ln': { decay_mult: 0.0 }, '.bias': { decay_mult: 0.0 }, '.cls_token': { decay_mult: 0.0 }, '.pos_embed': { decay_mult: 0.0 } } },
      }
    : { type: 'OptimWrapper', optimizer };
  const loader = (split: string, pipeline: unknown, train: boolean) => ({
    batch_size: train ? perGpuBatch(effective, t.gpus, 'batchSize × accumSteps') : Math.min(cfg.batchSize, 256), num_workers: cfg.data.concurrency,
    ...(train && linear ? { drop_last: true } : {}),
    dataset: folderDataset(cfg.data.root, split, pipeline), sampler: { type: 'DefaultSampler', shuffle: train },
  });
  return [
    ['model', {
      type: 'ImageClassifier',
      backbone,
      neck: linear ? { type: 'ClsBatchNormNeck', input_features: D } : null,
      head: {
        type: linear ? 'VisionTransformerClsHead' : 'LinearClsHead', num_classes: numClasses, in_channels: D, loss,
        init_cfg: [{ type: 'TruncNormal', layer: 'Linear', std: fl(m.headInitStd ?? (linear ? 0.01 : 2e-5)) }],
      },
      ...(augments.length && !linear ? { train_cfg: { augments } } : {}),
    }],
    ['data_preprocessor', { num_classes: numClasses, mean: rgb(cfg.data.mean), std: rgb(cfg.data.std), to_rgb: true }],
    ['train_pipeline', trainPipeline],
    ['test_pipeline', testPipeline],
    ['train_dataloader', loader(cfg.data.trainSplit, trainPipeline, true)],
    ['val_dataloader', loader(cfg.data.valSplit, testPipeline, false)],
    ['val_evaluator', { type: 'Accuracy', topk: tuple(1, Math.min(5, numClasses)) }],
    ['test_dataloader', loader(cfg.data.valSplit, testPipeline, false)],
    ['test_evaluator', { type: 'Accuracy', topk: tuple(1, Math.min(5, numClasses)) }],
    ['optim_wrapper', optimWrapper],
    ['param_scheduler', epochCosine(cfg.schedule)],
    ['train_cfg', { by_epoch: true, max_epochs: cfg.schedule.epochs, val_interval: cfg.evalInterval > 0 ? cfg.evalInterval : cfg.schedule.epochs }],
    ['val_cfg', {}],
    ['test_cfg', {}],
    ['auto_scale_lr', { base_batch_size: effective }],
    ...runtime(cfg.logInterval, cfg.seed, t.loadFrom, { type: 'CheckpointHook', interval: 1, max_keep_ckpts: 3 }),
  ];
}
