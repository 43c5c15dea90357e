/**
 * `mff export`: the exported OpenMMLab config, executed by Python, holds the TS config's values field by field
 * (the shipped ViT-B configs: MFF pretraining, fine-tune, linear probe, UperNet ADE20K; the bundled-scenes UperNet);
 * the weights beside it keep every key (or the backbone, prefix stripped, for mmseg's MAE init_cfg).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.js';
import type { StTensor } from '../../src/io/safetensors.js';
import { resolveArch } from '../../src/models/arch.js';
import { runExport } from '../../src/engine/run-export.js';
import { pyValue, tuple } from '../../src/export/py.js';
import { ADE20K_CLASSES } from '../../src/data/seg/palette.js';
import type { PretrainConfig } from '../../src/config/pretrain.js';
import type { ClsConfig } from '../../src/config/cls.js';
import type { SegConfig } from '../../src/config/seg.js';
import mffBase from '../../configs/mff/mff_vit-base-p16_8xb512-amp-coslr-300e_in1k.js';
import finetune from '../../configs/_base/cls-finetune_vit-base-p16_8xb128-coslr-100e_in1k.js';
import linear from '../../configs/_base/cls-linear_vit-base-p16_8xb2048-linear-coslr-90e_in1k.js';
import upernet from '../../configs/_base/upernet_mae-vit-b16_8xb2-160k_ade20k-512x512.js';
import upernetMini from '../../configs/upernet/upernet_mff-vit-mini-p4_1xb8-300i_scenes-mini-32x32.js';
import { tempDir } from '../engine/temp-dirs.js';

const CONFIGS = join(__dirname, '../../configs');

/** Execute a config with plain Python (it is only assignments of literals) and return its globals; tuples as {tuple: [...]}. */
function execPy(file: string): Record<string, any> {
  const code = [
    'import json, sys',
    'ns = {}',
    'exec(open(sys.argv[1]).read(), ns)',
    'def conv(v):',
    '    if isinstance(v, tuple): return {"tuple": [conv(x) for x in v]}',
    '    if isinstance(v, list): return [conv(x) for x in v]',
    '    if isinstance(v, dict): return {k: conv(x) for k, x in v.items()}',
    '    return v',
    'print(json.dumps({k: conv(v) for k, v in ns.items() if not k.startswith("__")}))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', code, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 could not execute ${file}:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Value at a dotted path ('model.backbone.arch.embed_dims', list indices as numbers); tuples unwrapped. */
function at(o: any, path: string): unknown {
  let v = o;
  for (const k of path.split('.')) {
    if (v && typeof v === 'object' && 'tuple' in v && Object.keys(v).length === 1) v = v.tuple;
    if (v === undefined || v === null) throw new Error(`${path}: missing at '${k}'`);
    v = v[k];
  }
  return v && typeof v === 'object' && 'tuple' in v && Object.keys(v).length === 1 ? v.tuple : v;
}

function expectFields(py: Record<string, any>, fields: [string, unknown][]): void {
  for (const [path, want] of fields) expect(at(py, path), path).toEqual(want);
}

function fakeCheckpoint(task: string, config: unknown, tensors: [string, number[]][], extra: Record<string, unknown> = {}): string {
  const file = join(tempDir('mff-export-ck-'), `${task}.ckpt`);
  const map = new Map<string, StTensor>(tensors.map(([k, shape]) => [k, { dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5) }]));
  saveCheckpoint(file, map, { format_version: 1, task, config, iteration: 7, epoch: 1, ...extra });
  return file;
}

describe('py writer', () => {
  test('dict / list / tuple / None / bool / float literals', () => {
    expect(pyValue({ type: 'A', a: [1, 2.5e-6], t: tuple(3), n: null, b: true, '.ln': 1 })).toBe("{'type': 'A', 'a': [1, 0.0000025], 't': (3,), 'n': None, 'b': True, '.ln': 1}");
    expect(pyValue({ type: 'LN', eps: 1e-6 })).toBe("dict(type='LN', eps=0.000001)");
  });
});

describe('mff export --to mmpretrain', () => {
  test('MFF pretraining (ViT-B, 300e): model, pipeline, schedule, load_from', async () => {
    const cfg = structuredClone(mffBase) as PretrainConfig;
    const ck = fakeCheckpoint('pretrain', cfg, [['backbone.cls_token', [1, 1, 768]], ['backbone.proj_weights', [6, 1, 1, 1]], ['neck.mask_token', [1, 1, 512]]]);
    const out = tempDir('mff-export-');
    const r = await runExport(ck, { to: 'mmpretrain', outDir: out, quiet: true });
    expect(r.config).toBe(join(out, `${cfg.workDir.split('/').pop()}.py`));
    const py = execPy(r.config);
    const a = resolveArch(cfg.model.arch);
    const E = cfg.batchSize * cfg.accumSteps;
    const p = cfg.data.pipeline;
    expectFields(py, [
      ['default_scope', 'mmpretrain'],
      ['model.type', 'MFF'],
      ['model.backbone.type', 'MFFViT'],
      ['model.backbone.arch.embed_dims', a.embedDims], ['model.backbone.arch.num_layers', a.numLayers],
      ['model.backbone.arch.num_heads', a.numHeads], ['model.backbone.arch.feedforward_channels', a.feedforwardChannels],
      ['model.backbone.img_size', cfg.model.imgSize], ['model.backbone.patch_size', cfg.model.patchSize],
      ['model.backbone.mask_ratio', cfg.model.maskRatio], ['model.backbone.out_indices', cfg.model.outIndices],
      ['model.backbone.norm_cfg.eps', cfg.model.lnEps],
      ['model.neck.num_patches', (cfg.model.imgSize / cfg.model.patchSize) ** 2], ['model.neck.embed_dim', a.embedDims],
      ['model.neck.decoder_embed_dim', cfg.model.decoder.embedDims], ['model.neck.decoder_depth', cfg.model.decoder.depth],
      ['model.neck.decoder_num_heads', cfg.model.decoder.numHeads], ['model.neck.mlp_ratio', 4],
      ['model.head.norm_pix', cfg.model.normPix], ['model.head.patch_size', cfg.model.patchSize],
      ['data_preprocessor.mean', cfg.data.mean], ['data_preprocessor.std', cfg.data.std],
      ['train_pipeline.2.size', p.size], ['train_pipeline.3.padding', p.kind === 'simple-resized-crop' ? p.padding : -1],
      ['train_dataloader.batch_size', E / 8], ['train_dataloader.dataset.data_root', cfg.data.root], ['train_dataloader.dataset.data_prefix', cfg.data.split],
      ['optim_wrapper.optimizer.type', 'AdamW'], ['optim_wrapper.optimizer.lr', (cfg.optim.baseLr * E) / 256],
      ['optim_wrapper.optimizer.betas', cfg.optim.betas], ['optim_wrapper.optimizer.weight_decay', cfg.optim.weightDecay],
      ['optim_wrapper.paramwise_cfg.custom_keys.pos_embed.decay_mult', 0],
      ['param_scheduler.0.start_factor', cfg.schedule.warmupStartFactor], ['param_scheduler.0.end', cfg.schedule.warmupEpochs],
      ['param_scheduler.1.T_max', cfg.schedule.epochs - cfg.schedule.warmupEpochs], ['param_scheduler.1.end', cfg.schedule.epochs],
      ['param_scheduler.1.eta_min', cfg.schedule.etaMin],
      ['train_cfg.max_epochs', cfg.schedule.epochs], ['auto_scale_lr.base_batch_size', E],
      ['randomness.seed', cfg.seed], ['default_hooks.logger.interval', cfg.logInterval],
      ['load_from', r.pth],
    ]);
    expect(py.train_pipeline.map((t: any) => t.type)).toEqual(['LoadImageFromFile', 'ToPIL', 'torchvision/Resize', 'torchvision/RandomCrop', 'torchvision/RandomHorizontalFlip', 'ToNumpy', 'PackInputs']);
    // the weights beside it: every key, and the run's metadata
    const w = loadCheckpoint(r.weights);
    expect([...w.tensors.keys()]).toEqual(['backbone.cls_token', 'backbone.proj_weights', 'neck.mask_token']);
    expect(w.meta?.task).toBe('pretrain');
    const text = readFileSync(r.config, 'utf8');
    expect(text).toContain(r.convert);
    expect(text).toContain('iteration 7, epoch 1');
  });

  test('fine-tune and linear-probe classifiers: heads, augments, layer decay / LARS, test pipeline', async () => {
    for (const base of [finetune, linear]) {
      const cfg = structuredClone(base) as ClsConfig;
      const lin = cfg.model.mode === 'linear';
      const head = lin ? 'head.layers.head.bias' : 'head.fc.bias';
      const ck = fakeCheckpoint('cls', cfg, [['backbone.cls_token', [1, 1, 768]], [head, [cfg.model.numClasses]]], { classes: [] });
      const r = await runExport(ck, { to: 'mmpretrain', outDir: tempDir('mff-export-'), gpus: 4, quiet: true });
      const py = execPy(r.config);
      const E = cfg.batchSize * cfg.accumSteps;
      const te = cfg.data.testPipeline;
      expectFields(py, [
        ['model.type', 'ImageClassifier'], ['model.backbone.type', 'VisionTransformer'],
        ['model.backbone.arch.embed_dims', 768], ['model.backbone.img_size', cfg.model.imgSize], ['model.backbone.patch_size', cfg.model.patchSize],
        ['model.backbone.drop_path_rate', cfg.model.dropPathRate ?? 0], ['model.backbone.final_norm', lin],
        ['model.backbone.out_type', lin ? 'cls_token' : 'avg_featmap'],
        ['model.head.type', lin ? 'VisionTransformerClsHead' : 'LinearClsHead'], ['model.head.num_classes', cfg.model.numClasses],
        ['model.head.init_cfg.0.std', cfg.model.headInitStd ?? (lin ? 0.01 : 2e-5)],
        ['data_preprocessor.num_classes', cfg.model.numClasses],
        ['train_dataloader.batch_size', E / 4], ['train_dataloader.dataset.data_prefix', cfg.data.trainSplit],
        ['val_dataloader.dataset.data_prefix', cfg.data.valSplit],
        ['test_pipeline.1.scale', te.resize], ['test_pipeline.1.interpolation', te.interp], ['test_pipeline.2.crop_size', te.size],
        ['optim_wrapper.optimizer.type', cfg.optim.type], ['optim_wrapper.optimizer.lr', (cfg.optim.baseLr * E) / 256],
        ['optim_wrapper.optimizer.weight_decay', cfg.optim.weightDecay],
        ['param_scheduler.0.end', cfg.schedule.warmupEpochs], ['param_scheduler.1.eta_min', cfg.schedule.etaMin],
        ['train_cfg.max_epochs', cfg.schedule.epochs], ['val_evaluator.topk', [1, 5]], ['load_from', r.pth],
      ]);
      if (lin) {
        expectFields(py, [['model.backbone.frozen_stages', 12], ['model.neck.type', 'ClsBatchNormNeck'], ['optim_wrapper.optimizer.momentum', cfg.optim.momentum]]);
      } else {
        expectFields(py, [
          ['model.head.loss.label_smooth_val', cfg.labelSmooth], ['model.train_cfg.augments.0.alpha', cfg.batchAugments.mixupAlpha],
          ['model.train_cfg.augments.1.alpha', cfg.batchAugments.cutmixAlpha], ['optim_wrapper.paramwise_cfg.layer_decay_rate', cfg.optim.layerDecayRate],
          ['optim_wrapper.optimizer.betas', cfg.optim.betas], ['train_pipeline.4.erase_prob', (cfg.data.trainPipeline as { erasingProb: number }).erasingProb],
        ]);
      }
    }
  });

  test('a pretraining checkpoint with --config <cls config>: the backbone init_cfg points at its converted weights', async () => {
    const ck = fakeCheckpoint('pretrain', structuredClone(mffBase), [['backbone.cls_token', [1, 1, 768]]]);
    const r = await runExport(ck, { to: 'mmpretrain', config: join(CONFIGS, '_base/cls-finetune_vit-base-p16_8xb128-coslr-100e_in1k.ts'), outDir: tempDir('mff-export-'), quiet: true });
    const py = execPy(r.config);
    expectFields(py, [['model.backbone.init_cfg.type', 'Pretrained'], ['model.backbone.init_cfg.checkpoint', r.pth], ['model.backbone.init_cfg.prefix', 'backbone.'], ['load_from', null]]);
  });
});

describe('mff export --to mmseg', () => {
  test('UperNet ViT-B ADE20K: backbone, neck, heads, slide test_cfg, pipelines, layer decay, poly schedule', async () => {
    const cfg = structuredClone(upernet) as SegConfig;
    const ck = fakeCheckpoint('seg', cfg, [['backbone.cls_token', [1, 1, 768]]], { classes: [...ADE20K_CLASSES], reduce_zero_label: true });
    const r = await runExport(ck, { to: 'mmseg', outDir: tempDir('mff-export-'), quiet: true });
    const py = execPy(r.config);
    const b = cfg.model.backbone;
    const d = cfg.model.decodeHead;
    const x = cfg.model.auxiliaryHead!;
    const s = cfg.schedule;
    const tc = cfg.testCfg as { crop: number[]; stride: number[] };
    expectFields(py, [
      ['default_scope', 'mmseg'], ['model.type', 'EncoderDecoder'], ['model.backbone.type', 'MAE'],
      ['model.backbone.img_size', [b.imgSize, b.imgSize]], ['model.backbone.patch_size', b.patchSize], ['model.backbone.embed_dims', b.embedDims],
      ['model.backbone.num_layers', b.numLayers], ['model.backbone.num_heads', b.numHeads], ['model.backbone.mlp_ratio', b.mlpRatio],
      ['model.backbone.out_indices', b.outIndices], ['model.backbone.drop_path_rate', b.dropPathRate], ['model.backbone.init_values', b.initValues],
      ['model.backbone.norm_cfg.eps', b.lnEps],
      ['model.neck.type', 'Feature2Pyramid'], ['model.neck.rescales', cfg.model.neck.rescales], ['model.neck.norm_cfg.eps', cfg.model.bnEps],
      ['model.decode_head.type', 'UPerHead'], ['model.decode_head.in_channels', d.inChannels], ['model.decode_head.in_index', d.inIndex],
      ['model.decode_head.channels', d.channels], ['model.decode_head.pool_scales', d.poolScales], ['model.decode_head.num_classes', d.numClasses],
      ['model.decode_head.dropout_ratio', d.dropoutRatio], ['model.decode_head.loss_decode.loss_weight', d.lossWeight],
      ['model.auxiliary_head.type', 'FCNHead'], ['model.auxiliary_head.channels', x.channels], ['model.auxiliary_head.in_index', x.inIndex],
      ['model.auxiliary_head.num_convs', x.numConvs], ['model.auxiliary_head.loss_decode.loss_weight', x.lossWeight],
      ['model.test_cfg.mode', 'slide'], ['model.test_cfg.crop_size', tc.crop], ['model.test_cfg.stride', tc.stride],
      ['model.data_preprocessor.mean', cfg.data.mean], ['model.data_preprocessor.size', cfg.data.train.cropSize],
      ['train_pipeline.2.scale', cfg.data.train.scale], ['train_pipeline.2.ratio_range', cfg.data.train.ratioRange],
      ['train_pipeline.3.crop_size', cfg.data.train.cropSize], ['train_pipeline.3.cat_max_ratio', cfg.data.train.catMaxRatio],
      ['train_pipeline.4.prob', cfg.data.train.flipProb], ['train_pipeline.5.type', 'PhotoMetricDistortion'],
      ['test_pipeline.1.scale', cfg.data.testScale],
      ['train_dataloader.batch_size', cfg.batchSize / 8], ['train_dataloader.dataset.type', 'ADE20KDataset'],
      ['train_dataloader.dataset.data_root', cfg.data.root], ['val_dataloader.dataset.data_prefix.img_path', 'images/validation'],
      ['val_evaluator.iou_metrics', cfg.evalMetrics],
      ['optim_wrapper.optimizer.lr', cfg.optim.lr], ['optim_wrapper.optimizer.betas', cfg.optim.betas], ['optim_wrapper.optimizer.weight_decay', cfg.optim.weightDecay],
      ['optim_wrapper.paramwise_cfg.num_layers', b.numLayers], ['optim_wrapper.paramwise_cfg.layer_decay_rate', cfg.optim.layerDecayRate],
      ['optim_wrapper.constructor', 'LayerDecayOptimizerConstructor'],
      ['param_scheduler.0.start_factor', s.warmupStartFactor], ['param_scheduler.0.end', s.warmupIters],
      ['param_scheduler.1.begin', s.warmupIters], ['param_scheduler.1.end', s.maxIters], ['param_scheduler.1.power', s.power], ['param_scheduler.1.eta_min', s.etaMin],
      ['train_cfg.max_iters', s.maxIters], ['train_cfg.val_interval', cfg.valInterval], ['randomness.seed', cfg.seed], ['load_from', r.pth],
    ]);
    expect(py.model.test_cfg.crop_size).toHaveProperty('tuple'); // mmseg indexes these as tuples
  });

  test('the bundled-scenes UperNet (11 classes): BaseSegDataset with the checkpoint\'s classes and palette', async () => {
    const cfg = structuredClone(upernetMini) as SegConfig;
    const classes = ['background', ...Array.from({ length: 10 }, (_, i) => `c${i}`)];
    const palette = classes.map((_, i) => [i, 2 * i, 3 * i]);
    const ck = fakeCheckpoint('seg', cfg, [['decode_head.conv_seg.bias', [11]]], { classes, palette, reduce_zero_label: true });
    const r = await runExport(ck, { to: 'mmseg', outDir: tempDir('mff-export-'), gpus: 1, quiet: true });
    const py = execPy(r.config);
    expectFields(py, [
      ['train_dataloader.dataset.type', 'BaseSegDataset'], ['train_dataloader.dataset.metainfo.classes', classes],
      ['train_dataloader.dataset.metainfo.palette', palette], ['train_dataloader.dataset.reduce_zero_label', true],
      ['train_dataloader.batch_size', cfg.batchSize], ['model.decode_head.num_classes', cfg.model.decodeHead.numClasses],
      ['model.test_cfg.mode', cfg.testCfg.mode],
    ]);
  });

  test('a pretraining checkpoint with --config <seg config>: backbone weights without the prefix, init_cfg → them', async () => {
    const ck = fakeCheckpoint('pretrain', structuredClone(mffBase), [['backbone.cls_token', [1, 1, 768]], ['backbone.layers.0.ln1.weight', [768]], ['neck.mask_token', [1, 1, 512]]]);
    const r = await runExport(ck, { to: 'mmseg', config: join(CONFIGS, 'upernet/upernet_mff-vit-b16_8xb2-160k_ade20k-512x512.ts'), outDir: tempDir('mff-export-'), quiet: true });
    expect([...loadCheckpoint(r.weights).tensors.keys()]).toEqual(['cls_token', 'layers.0.ln1.weight']);
    const py = execPy(r.config);
    expectFields(py, [['model.backbone.init_cfg.checkpoint', r.pth], ['load_from', null]]);
  });

  test('refuses what has no counterpart, naming the file', async () => {
    const seg = fakeCheckpoint('seg', structuredClone(upernetMini), [['x', [1]]]);
    await expect(runExport(seg, { to: 'mmpretrain', outDir: tempDir('mff-export-'), quiet: true })).rejects.toThrow(`${seg}: a segmentation model exports to mmseg, not mmpretrain`);
    const pre = fakeCheckpoint('pretrain', structuredClone(mffBase), [['backbone.x', [1]]]);
    await expect(runExport(pre, { to: 'mmseg', outDir: tempDir('mff-export-'), quiet: true })).rejects.toThrow(/pretraining checkpoint exports to mmpretrain, or to mmseg with --config/);
    const odd = fakeCheckpoint('seg', structuredClone(upernet), [['x', [1]]]);
    await expect(runExport(odd, { to: 'mmseg', outDir: tempDir('mff-export-'), gpus: 3, quiet: true })).rejects.toThrow('batchSize = 16 images per step is not divisible by --gpus 3');
    expect(existsSync(join(tempDir('mff-export-'), 'x.py'))).toBe(false);
  });
});
