/**
 * The mmseg config of an mff seg run (configs/mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py and its _base_
 * files, written out whole): EncoderDecoder(MAE → Feature2Pyramid → UPerHead + FCNHead), the ADE20K-style pipelines,
 * AdamW with LayerDecayOptimizerConstructor, LinearLR + PolyLR over iterations, IoUMetric. Runs with mmseg 1.x
 * `tools/dist_train.sh` / `torchrun tools/train.py`.
 */
import type { SegConfig } from '../config/seg.js';
import { envCfg, perGpuBatch, rgb, type ExportTarget } from './common.js';
import { fl, tuple } from './py.js';

export interface SegDatasetInfo {
  classes: readonly string[];
  palette: readonly (readonly number[])[];
  reduceZeroLabel: boolean;
  imgSuffix: string;
  segMapSuffix: string;
  /** The 150 ADE20K classes: mmseg's ADE20KDataset; else BaseSegDataset with this metainfo. */
  isAde20k: boolean;
}

export function segToMmseg(cfg: SegConfig, ds: SegDatasetInfo, t: ExportTarget & { backboneFrom?: string | null }): [string, unknown][] {
  const m = cfg.model;
  const b = m.backbone;
  if ((m.decodeHead.type ?? 'uper') !== 'uper') throw new Error(`model.decodeHead.type '${m.decodeHead.type}' (the frozen-feature probe) has no mmseg counterpart; only UPerHead models export to mmseg`);
  const crop = cfg.data.train.cropSize;
  const norm = { type: 'SyncBN', requires_grad: true, eps: fl(m.bnEps), momentum: fl(m.bnMomentum) };
  const backboneFrom = t.backboneFrom ?? (cfg.pretrained || null);
  const ce = (w: number) => ({ type: 'CrossEntropyLoss', use_sigmoid: false, loss_weight: fl(w) });
  const aux = m.auxiliaryHead;
  const model = {
    type: 'EncoderDecoder',
    data_preprocessor: { type: 'SegDataPreProcessor', mean: rgb(cfg.data.mean), std: rgb(cfg.data.std), bgr_to_rgb: true, pad_val: 0, seg_pad_val: 255, size: tuple(...crop) },
    pretrained: null,
    // mlp_ratio stays an int when integral: mmseg's BEiT layers build Linear(D, mlp_ratio * D)
    backbone: {
      type: 'MAE', img_size: tuple(b.imgSize, b.imgSize), patch_size: b.patchSize, in_channels: b.inChannels, embed_dims: b.embedDims,
      num_layers: b.numLayers, num_heads: b.numHeads, mlp_ratio: b.mlpRatio, out_indices: [...b.outIndices], attn_drop_rate: fl(0),
      drop_path_rate: fl(b.dropPathRate), norm_cfg: { type: 'LN', eps: fl(b.lnEps) }, act_cfg: { type: 'GELU' }, norm_eval: false, init_values: fl(b.initValues),
      ...(backboneFrom ? { init_cfg: { type: 'Pretrained', checkpoint: backboneFrom } } : {}),
    },
    neck: { type: 'Feature2Pyramid', embed_dim: b.embedDims, rescales: [...m.neck.rescales], norm_cfg: norm },
    decode_head: {
      type: 'UPerHead', in_channels: [...m.decodeHead.inChannels], in_index: [...m.decodeHead.inIndex], pool_scales: tuple(...m.decodeHead.poolScales),
      channels: m.decodeHead.channels, dropout_ratio: fl(m.decodeHead.dropoutRatio), num_classes: m.decodeHead.numClasses, norm_cfg: norm,
      align_corners: false, loss_decode: ce(m.decodeHead.lossWeight), ignore_index: m.ignoreIndex,
    },
    auxiliary_head: aux
      ? {
          type: 'FCNHead', in_channels: aux.inChannels, in_index: aux.inIndex, channels: aux.channels, num_convs: aux.numConvs, kernel_size: aux.kernelSize,
          concat_input: aux.concatInput, dropout_ratio: fl(aux.dropoutRatio), num_classes: aux.numClasses, norm_cfg: norm, align_corners: false,
          loss_decode: ce(aux.lossWeight), ignore_index: m.ignoreIndex,
        }
      : null,
    train_cfg: {},
    test_cfg: cfg.testCfg.mode === 'slide' ? { mode: 'slide', crop_size: tuple(...cfg.testCfg.crop), stride: tuple(...cfg.testCfg.stride) } : { mode: 'whole' },
  };
  const tr = cfg.data.train;
  const trainPipeline = [
    { type: 'LoadImageFromFile' },
    { type: 'LoadAnnotations', reduce_zero_label: ds.reduceZeroLabel },
    { type: 'RandomResize', scale: tuple(...tr.scale), ratio_range: tuple(...tr.ratioRange.map(fl)), keep_ratio: true },
    { type: 'RandomCrop', crop_size: tuple(...tr.cropSize), cat_max_ratio: fl(tr.catMaxRatio) },
    { type: 'RandomFlip', prob: fl(tr.flipProb) },
    ...(tr.photometric ? [{ type: 'PhotoMetricDistortion' }] : []),
    { type: 'PackSegInputs' },
  ];
  const testPipeline = [
    { type: 'LoadImageFromFile' },
    { type: 'Resize', scale: tuple(...cfg.data.testScale), keep_ratio: true },
    { type: 'LoadAnnotations', reduce_zero_label: ds.reduceZeroLabel },
    { type: 'PackSegInputs' },
  ];
  const dataset = (split: string, pipeline: unknown) => ({
    type: ds.isAde20k ? 'ADE20KDataset' : 'BaseSegDataset',
    data_root: cfg.data.root,
    data_prefix: { img_path: `images/${split}`, seg_map_path: `annotations/${split}` },
    ...(ds.isAde20k ? {} : {
      metainfo: { classes: tuple(...ds.classes), palette: ds.palette.map((c) => [...c]) },
      img_suffix: ds.imgSuffix, seg_map_suffix: ds.segMapSuffix,
    }),
    reduce_zero_label: ds.reduceZeroLabel,
    pipeline,
  });
  const evaluator = { type: 'IoUMetric', iou_metrics: [...cfg.evalMetrics] };
  const val = { batch_size: 1, num_workers: cfg.data.concurrency, persistent_workers: true, sampler: { type: 'DefaultSampler', shuffle: false }, dataset: dataset(cfg.data.valSplit, testPipeline) };
  const s = cfg.schedule;
  const o = cfg.optim;
  return [
    ['default_scope', 'mmseg'],
    ['crop_size', tuple(...crop)],
    ['model', model],
    ['train_pipeline', trainPipeline],
    ['test_pipeline', testPipeline],
    ['train_dataloader', {
      batch_size: perGpuBatch(cfg.batchSize, t.gpus, 'batchSize'), num_workers: cfg.data.concurrency, persistent_workers: true,
      sampler: { type: 'InfiniteSampler', shuffle: true }, dataset: dataset(cfg.data.trainSplit, trainPipeline),
    }],
    ['val_dataloader', val],
    ['test_dataloader', val],
    ['val_evaluator', evaluator],
    ['test_evaluator', evaluator],
    ['optim_wrapper', {
      type: 'OptimWrapper',
      optimizer: { type: 'AdamW', lr: fl(o.lr), betas: tuple(...o.betas.map(fl)), eps: fl(o.eps), weight_decay: fl(o.weightDecay) },
      paramwise_cfg: { num_layers: b.numLayers, layer_decay_rate: fl(o.layerDecayRate) },
      constructor: 'LayerDecayOptimizerConstructor',
    }],
    ['param_scheduler', [
      ...(s.warmupIters > 0 ? [{ type: 'LinearLR', start_factor: fl(s.warmupStartFactor), by_epoch: false, begin: 0, end: s.warmupIters }] : []),
      { type: 'PolyLR', eta_min: fl(s.etaMin), power: fl(s.power), begin: s.warmupIters, end: s.maxIters, by_epoch: false },
    ]],
    ['train_cfg', { type: 'IterBasedTrainLoop', max_iters: s.maxIters, val_interval: cfg.valInterval > 0 ? cfg.valInterval : s.maxIters }],
    ['val_cfg', { type: 'ValLoop' }],
    ['test_cfg', { type: 'TestLoop' }],
    ['default_hooks', {
      timer: { type: 'IterTimerHook' }, logger: { type: 'LoggerHook', interval: cfg.logInterval, log_metric_by_epoch: false },
      param_scheduler: { type: 'ParamSchedulerHook' }, checkpoint: { type: 'CheckpointHook', by_epoch: false, interval: cfg.checkpointInterval },
      sampler_seed: { type: 'DistSamplerSeedHook' }, visualization: { type: 'SegVisualizationHook' },
    }],
    ['env_cfg', { ...envCfg(), cudnn_benchmark: true }],
    ['vis_backends', [{ type: 'LocalVisBackend' }]],
    ['visualizer', { type: 'SegLocalVisualizer', vis_backends: [{ type: 'LocalVisBackend' }], name: 'visualizer' }],
    ['log_processor', { by_epoch: false }],
    ['log_level', 'INFO'],
    ['load_from', t.loadFrom],
    ['resume', false],
    ['randomness', { seed: cfg.seed }],
  ];
}
