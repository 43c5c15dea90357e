/**
 * cls-train's wiring pieces: the train pipeline of a config, the optimizer over mmpretrain's parameter groups
 * (fine-tune: layer-wise lr decay, no decay for norms / biases / tokens), and loading the pretrained backbone.
 */
import { existsSync } from 'node:fs';
import { checkBackboneTask, type ClsConfig } from '../config/cls.js';
import { loadBackboneFromCheckpoint, type ClsModel } from '../models/cls/classifier.js';
import { FINETUNE_ERASING, FINETUNE_RANDAUG, type ClsTrainPipeline } from '../data/cls-transforms.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { createOptimizer, type GroupSettings, type OptimizerSpec } from './optim.js';
import { mmpretrainLayerDecayGroups } from './param-groups.js';

/** The RandomResizedCrop + flip (+ RandAugment + RandomErasing for fine-tuning) pipeline of a config. */
export function clsTrainPipeline(cfg: ClsConfig): ClsTrainPipeline {
  const p = cfg.data.trainPipeline;
  if (p.kind === 'linear') return { kind: 'linear', size: p.size, scale: p.scale, flipProb: p.flipProb };
  return {
    kind: 'finetune',
    size: p.size,
    scale: p.scale,
    flipProb: p.flipProb,
    randAugment: p.randAugment ? FINETUNE_RANDAUG : null,
    erasing: p.erasingProb > 0 ? { ...FINETUNE_ERASING, prob: p.erasingProb } : null,
  };
}

/** Optimizer + per-parameter groups: fine-tune = mmpretrain layer decay with no decay for norms/biases/tokens. */
export function buildClsOptimizer(cfg: ClsConfig, m: ClsModel, lr: number) {
  const p = m.params;
  const names = p.trainableNames();
  const o = cfg.optim;
  let groups: Map<string, GroupSettings>;
  if (cfg.model.mode === 'finetune') {
    const shapes = new Map(names.map((n) => [n, p.get(n).shape]));
    groups = mmpretrainLayerDecayGroups(names, shapes, {
      numLayers: m.arch.numLayers,
      layerDecayRate: o.layerDecayRate,
      weightDecay: o.weightDecay,
      baseLr: lr,
      normDecayMult: 0,
      biasDecayMult: 0,
      flatDecayMult: 0,
      customKeys: { '.ln': { decayMult: 0 }, '.bias': { decayMult: 0 }, '.cls_token': { decayMult: 0 }, '.pos_embed': { decayMult: 0 } },
    });
  } else {
    groups = new Map(names.map((n) => [n, { lrScale: 1, weightDecay: o.weightDecay }]));
  }
  const spec: OptimizerSpec =
    o.type === 'AdamW' ? { type: 'AdamW', betas: o.betas, eps: o.eps } : o.type === 'LARS' ? { type: 'LARS', momentum: o.momentum } : { type: 'SGD', momentum: o.momentum };
  return { optimizer: createOptimizer(spec, p, groups), names };
}

/** Load `cfg.pretrained` into the backbone and describe what happened in one line. Unfit shapes throw. */
export function loadClsPretrained(m: ClsModel, file: string): string {
  if (!existsSync(file)) throw new Error(`${file}: backbone checkpoint not found`);
  const ck = loadCheckpoint(file);
  checkBackboneTask(file, ck.meta);
  const r = loadBackboneFromCheckpoint(m, ck.tensors, { file });
  // a final norm of the other mode (ln2 of a fine-tuned classifier when probing) is skipped, as strict=False does
  const alien = r.unexpected.filter((k) => !/^backbone\.ln\d\./.test(k));
  if (alien.length) {
    throw new Error(`${file}: backbone keys the model does not have: ${alien.slice(0, 6).join(', ')}${alien.length > 6 ? ', ...' : ''} (is model.arch right?)`);
  }
  const lostBlocks = r.missing.filter((n) => n.startsWith('backbone.layers.') || n.startsWith('backbone.patch_embed'));
  if (lostBlocks.length) {
    throw new Error(`${file}: has no weights for ${lostBlocks.slice(0, 4).join(', ')}${lostBlocks.length > 4 ? ', ...' : ''} (the checkpoint has fewer blocks than model.arch?)`);
  }
  const pe = r.posEmbedResized ? `; pos_embed resized ${r.posEmbedResized.from.join('x')} -> ${r.posEmbedResized.to.join('x')}` : '';
  // the classifier's final norm (ln1 or ln2, by mode) is absent from a checkpoint of another task or mode: expected
  const finalNorm = (k: string) => /^backbone\.ln\d\./.test(k);
  const task = String(ck.meta?.task ?? 'state dict');
  const normInit = r.missing.filter(finalNorm);
  const rest = r.missing.filter((k) => !finalNorm(k));
  return [
    `loaded ${r.loaded.length} backbone tensors from ${file} (${task})${pe}; as expected`,
    ...(normInit.length ? [`${normInit.join(', ')} keep their init (this mode's final norm, not in the checkpoint)`] : []),
    ...(r.unexpected.length ? [`${r.unexpected.join(', ')} unused (the final norm of another mode)`] : []),
    `${r.dropped.length} decoder/fusion/head keys dropped`,
  ].join(', ') + (rest.length ? `; WARNING: ${rest.length} backbone tensors keep their init: ${rest.join(', ')}` : '');
}
