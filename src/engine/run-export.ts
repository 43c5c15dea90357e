/**
 * `mff export --to mmpretrain|mmseg CKPT`: the OpenMMLab config of the run a checkpoint came from (its embedded
 * config), written beside a copy of the weights, so training continues under torchrun / dist_train.sh:
 *
 *   <out>/<run>.py            the config (model, pipelines, schedule, runtime; load_from or init_cfg → <stem>.pth)
 *   <out>/<stem>.safetensors  the weights under their mmpretrain / mmseg key names (backbone only, prefix stripped,
 *                             for a pretraining checkpoint headed for mmseg's MAE backbone)
 *
 * <stem>.pth is what the two-line conversion (CONVERT_PTH) makes of the .safetensors on a machine with PyTorch.
 * Checkpoint → target: pretrain → mmpretrain (continue pretraining, load_from); pretrain + --config <cls config> →
 * mmpretrain fine-tune / linear probe (backbone init_cfg); pretrain + --config <seg config> → mmseg (backbone
 * init_cfg); cls → mmpretrain (load_from); seg → mmseg (load_from).
 */
import { basename, extname, join, resolve } from 'node:path';
import { loadCheckpoint, writeFileAtomic, type CheckpointMeta } from '../io/checkpoint.js';
import { serializeSafetensors, type StTensor } from '../io/safetensors.js';
import type { PretrainConfig } from '../config/pretrain.js';
import { loadClsConfig, type ClsConfig } from '../config/cls.js';
import { loadSegConfig, type SegConfig } from '../config/seg.js';
import { importConfig } from '../config/load.js';
import { findConfigFile } from '../config/resolve.js';
import { loadSegMeta } from '../data/seg/ade20k.js';
import { ADE20K_CLASSES } from '../data/seg/palette.js';
import { clsToMmpretrain, pretrainToMmpretrain } from '../export/mmpretrain.js';
import { segToMmseg, type SegDatasetInfo } from '../export/mmseg.js';
import { pyModule } from '../export/py.js';
import { logger } from './train-loop.js';

export type ExportTo = 'mmpretrain' | 'mmseg';

export interface ExportOptions {
  to: ExportTo;
  /** A cls or seg config to train from a pretraining checkpoint's backbone (else the checkpoint's own run continues). */
  config?: string;
  /** Overrides of --config (key=value). */
  cfgOptions?: string[];
  /** Default ./work_dirs/<run>/export_<to>. */
  outDir?: string;
  /** GPUs of the OpenMMLab job; the per-GPU batch is the run's effective batch / gpus. Default 8 (OpenMMLab's 8×b). */
  gpus?: number;
  quiet?: boolean;
}

export interface ExportResult {
  config: string;
  weights: string;
  pth: string;
  /** What the config is for: 'pretrain' | 'cls-finetune' | 'cls-linear' | 'seg'. */
  kind: string;
  /** The shell line converting the .safetensors to the .pth the config names. */
  convert: string;
  train: string;
}

/** Two lines of Python (pip install safetensors): safetensors → the {'state_dict': ...} .pth mmengine loads. */
export function convertPthCommand(weights: string, pth: string): string {
  return `python -c "import torch; from safetensors.torch import load_file; torch.save({'state_dict': load_file('${weights}')}, '${pth}')"`;
}

const stem = (f: string) => basename(f, extname(f));

export async function runExport(checkpoint: string, opts: ExportOptions): Promise<ExportResult> {
  const log = logger(opts.quiet);
  const ck = loadCheckpoint(checkpoint);
  const meta = ck.meta;
  if (!meta?.config) throw new Error(`${checkpoint}: no mff metadata, so no run config to export (export needs a checkpoint written by mff pretrain/cls-train/seg-train)`);
  const gpus = opts.gpus ?? 8;
  const task = meta.task;
  let kind: string;
  let run: string;
  let weights = ck.tensors;
  let build: (pth: string) => [string, unknown][];
  const other = opts.config ? await importConfig<{ task?: string }>(findConfigFile(opts.config)) : null;
  if (opts.cfgOptions?.length && !other) throw new Error('--cfg-options needs --config');
  if (other && task !== 'pretrain') throw new Error(`--config ${opts.config}: only a pretraining checkpoint takes a config to train with; ${checkpoint} is a '${task}' checkpoint with its own`);
  if (task === 'pretrain' && !other) {
    if (opts.to !== 'mmpretrain') throw new Error(`${checkpoint}: a pretraining checkpoint exports to mmpretrain, or to mmseg with --config <seg config> (the segmentation run to start from it)`);
    const cfg = meta.config as PretrainConfig;
    kind = 'pretrain';
    run = basename(cfg.workDir);
    build = (pth) => pretrainToMmpretrain(cfg, { gpus, loadFrom: pth });
  } else if (task === 'pretrain' && other) {
    if (other.task === 'cls') {
      if (opts.to !== 'mmpretrain') throw new Error(`--config ${opts.config}: a classification config exports to mmpretrain, not ${opts.to}`);
      const cfg = await loadClsConfig(opts.config!, { cfgOptions: opts.cfgOptions });
      if (cfg.model.numClasses < 1) throw new Error(`--config ${opts.config}: model.numClasses is ${cfg.model.numClasses}; set the number of classes with --cfg-options model.numClasses=K (mmpretrain's head needs it)`);
      kind = `cls-${cfg.model.mode}`;
      run = stem(opts.config!);
      build = (pth) => clsToMmpretrain(cfg, cfg.model.numClasses, { gpus, loadFrom: null, backboneFrom: pth });
    } else if (other.task === 'seg') {
      if (opts.to !== 'mmseg') throw new Error(`--config ${opts.config}: a segmentation config exports to mmseg, not ${opts.to}`);
      const cfg = await loadSegConfig(opts.config!, { cfgOptions: opts.cfgOptions });
      const ds = await datasetInfo(cfg, null);
      kind = 'seg';
      run = stem(opts.config!);
      weights = backboneOnly(ck.tensors, checkpoint);
      build = (pth) => segToMmseg(cfg, ds, { gpus, loadFrom: null, backboneFrom: pth });
    } else {
      throw new Error(`--config ${opts.config}: task '${String(other.task)}'; give a cls or seg config`);
    }
  } else if (task === 'cls') {
    if (opts.to !== 'mmpretrain') throw new Error(`${checkpoint}: a classifier exports to mmpretrain, not ${opts.to}`);
    const cfg = meta.config as ClsConfig;
    const bias = ck.tensors.get(cfg.model.mode === 'linear' ? 'head.layers.head.bias' : 'head.fc.bias');
    const numClasses = bias?.shape[0] ?? cfg.model.numClasses;
    kind = `cls-${cfg.model.mode}`;
    run = basename(cfg.workDir);
    build = (pth) => clsToMmpretrain(cfg, numClasses, { gpus, loadFrom: pth, backboneFrom: null });
  } else if (task === 'seg') {
    if (opts.to !== 'mmseg') throw new Error(`${checkpoint}: a segmentation model exports to mmseg, not ${opts.to}`);
    const cfg = meta.config as SegConfig;
    const ds = await datasetInfo(cfg, meta);
    kind = 'seg';
    run = basename(cfg.workDir);
    build = (pth) => segToMmseg(cfg, ds, { gpus, loadFrom: pth, backboneFrom: null });
  } else {
    throw new Error(`${checkpoint}: task '${String(task)}' cannot be exported`);
  }

  const outDir = resolve(opts.outDir ?? join('work_dirs', run, `export_${opts.to}`));
  const wFile = join(outDir, `${stem(checkpoint)}${weights === ck.tensors ? '' : '_backbone'}.safetensors`);
  const pth = wFile.replace(/\.safetensors$/, '.pth');
  const cfgFile = join(outDir, `${run}.py`);
  const convert = convertPthCommand(wFile, pth);
  const tool = opts.to === 'mmpretrain' ? 'mmpretrain' : 'mmsegmentation';
  const train = `torchrun --nproc_per_node=${gpus} <${tool}>/tools/train.py ${cfgFile} --launcher pytorch`;
  const where = meta.iteration !== undefined ? `, iteration ${String(meta.iteration)}${meta.epoch !== undefined ? `, epoch ${String(meta.epoch)}` : ''}` : '';
  const header = [
    `${opts.to} config exported by \`mff export --to ${opts.to}\` (${kind})`,
    `from ${resolve(checkpoint)} (task ${task}${where})${opts.config ? ` with --config ${opts.config}` : ''}.`,
    `Per-GPU batch for ${gpus} GPUs (mff export --gpus); the lr is the run's, for the same effective batch.`,
    '',
    'Weights: convert the safetensors beside this file once (pip install safetensors):',
    `  ${convert}`,
    'Train:',
    `  ${train}`,
    'Back to mff: save the resulting state_dict as safetensors and pass it to --load-from / --backbone / --checkpoint',
    '(see README, "Scaling out").',
  ];
  writeFileAtomic(wFile, weights === ck.tensors ? serializeSafetensors(weights, { format: 'pt', mff: JSON.stringify(meta) }) : serializeSafetensors(weights, { format: 'pt' }));
  writeFileAtomic(cfgFile, pyModule(header, build(pth)));
  log(`[mff] wrote ${cfgFile} and ${wFile}`);
  return { config: cfgFile, weights: wFile, pth, kind, convert, train };
}

/** The backbone of a whole pretraining model with the `backbone.` prefix stripped: what mmseg's MAE init_cfg loads. */
function backboneOnly(tensors: Map<string, StTensor>, file: string): Map<string, StTensor> {
  const out = new Map<string, StTensor>();
  for (const [k, t] of tensors) if (k.startsWith('backbone.')) out.set(k.slice('backbone.'.length), t);
  if (out.size === 0) throw new Error(`${file}: no 'backbone.' weights to export`);
  return out;
}

async function datasetInfo(cfg: SegConfig, meta: CheckpointMeta | null): Promise<SegDatasetInfo> {
  const ds = await loadSegMeta(cfg.data.root).catch(() => null);
  const classes = (meta?.classes as string[] | undefined) ?? ds?.classes ?? ADE20K_CLASSES;
  return {
    classes,
    palette: (meta?.palette as number[][] | undefined) ?? ds?.palette ?? [],
    reduceZeroLabel: (meta?.reduce_zero_label as boolean | undefined) ?? ds?.reduceZeroLabel ?? true,
    imgSuffix: ds?.imgSuffix ?? '.jpg',
    segMapSuffix: ds?.segMapSuffix ?? '.png',
    isAde20k: classes.length === ADE20K_CLASSES.length && classes.every((c, i) => c === ADE20K_CLASSES[i]),
  };
}
