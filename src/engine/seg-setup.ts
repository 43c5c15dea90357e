/**
 * seg-train's wiring pieces shared with tools/bench.ts: the model + AdamW over mmseg's layer-decay groups, the
 * memory pre-flight of the CPU engine, the train pipeline of a config, and the backbone-loading report.
 */
import * as tf from '@tensorflow/tfjs';
import type { SegConfig } from '../config/seg.js';
import { buildSegmentor, type SegModel } from '../models/seg/segmentor.js';
import { estimateSegTrainMemory, WASM_HEAP_LIMIT } from '../models/seg/memory.js';
import type { SegTrainPipeline } from '../data/seg/seg-transforms.js';
import { Rng } from '../io/rng.js';
import { createOptimizer } from './optim.js';
import { mmsegLayerDecayGroups } from './param-groups.js';

/**
 * The seg-train model and optimiser from a config: the segmentor (mmseg init, seeded by cfg.seed), the drop-path /
 * dropout Rng, and AdamW over mmseg's layer-decay parameter groups. Shared by runSegTrain and tools/bench.ts.
 */
export function createSegTraining(cfg: SegConfig): { model: SegModel; dropRng: Rng; optimizer: ReturnType<typeof createOptimizer> } {
  const rootRng = new Rng(cfg.seed);
  const model = buildSegmentor(cfg.model, rootRng.fork());
  const dropRng = rootRng.fork();
  const p = model.params;
  const names = p.trainableNames();
  const shapes = new Map(names.map((n) => [n, p.get(n).shape]));
  const groups = mmsegLayerDecayGroups(names, shapes, {
    numLayers: cfg.model.backbone.numLayers, layerDecayRate: cfg.optim.layerDecayRate, weightDecay: cfg.optim.weightDecay, baseLr: cfg.optim.lr,
  });
  // On the CPU engine every tensor lives in one wasm heap of at most 4 GB; AdamW's two state buffers (twice the
  // parameters: 1.3 GB for ViT-B UperNet) go to JS memory instead, bitwise the same update (engine/optim.ts).
  const stateInHostMemory = tf.getBackend() === 'wasm';
  const optimizer = createOptimizer({ type: 'AdamW', betas: cfg.optim.betas, eps: cfg.optim.eps }, p, groups, { stateInHostMemory });
  return { model, dropRng, optimizer };
}

const GB = (b: number) => `${(b / 2 ** 30).toFixed(1)} GB`;

/**
 * Pre-flight on the CPU engine (one wasm heap of at most 4 GB): refuse a training config whose estimated peak does
 * not fit, with the estimate, the limit and the nearest settings that fit (withCp, a smaller crop).
 */
export function checkSegTrainFits(cfg: SegConfig, params: number, backend: string): void {
  if (!backend.startsWith('wasm')) return;
  const est = (m: SegConfig['model']) => estimateSegTrainMemory(m, cfg.batchSize, { params, optimizerOnHeap: false });
  const e = est(cfg.model);
  if (e.total <= WASM_HEAP_LIMIT) return;
  const b = cfg.model.backbone;
  const fits: string[] = [];
  const cp = { ...cfg.model, backbone: { ...b, withCp: true } };
  if (!b.withCp && est(cp).total <= WASM_HEAP_LIMIT) fits.push(`model.backbone.withCp=true (est. ${GB(est(cp).total)})`);
  const step = 2 * b.patchSize;
  for (let S = Math.floor(b.imgSize / step) * step - step; S >= step; S -= step) {
    const m = { ...cp, backbone: { ...cp.backbone, imgSize: S } };
    if (est(m).total <= WASM_HEAP_LIMIT) {
      const o = [`model.backbone.imgSize=${S}`, `data.train.cropSize=[${S},${S}]`, `testCfg.crop=[${S},${S}]`, 'model.backbone.withCp=true'];
      fits.push(`crop ${S}² with withCp (est. ${GB(est(m).total)}): ${o.map((x) => `--cfg-options ${x}`).join(' ')}`);
      break;
    }
  }
  throw new Error(
    `seg-train: estimated peak memory ${GB(e.total)} for batch ${cfg.batchSize} at ${b.imgSize}² (weights ${GB(e.weights)} + the larger of gradients ${GB(e.grads)} and activations: backbone ${GB(e.backbone)}, ` +
      `neck ${GB(e.neck)}, heads ${GB(e.head)}; allocator/engine margin ${GB(e.total - e.weights - Math.max(e.grads, e.backbone + e.neck + e.head))}) exceeds the ${backend} engine's ${GB(WASM_HEAP_LIMIT)} heap; fits: ${fits.join('; ') || 'nothing at this batch size'}` +
      ' (batch 1 is refused by BatchNorm, as in PyTorch)',
  );
}

/** The mmseg train pipeline (RandomResize, RandomCrop, flip, PhotoMetricDistortion, normalise, pad) of a config. */
export function segTrainPipeline(cfg: SegConfig): SegTrainPipeline {
  const t = cfg.data.train;
  return {
    scale: t.scale, ratioRange: t.ratioRange, cropSize: t.cropSize, catMaxRatio: t.catMaxRatio, flipProb: t.flipProb,
    photometric: t.photometric ? {} : false, mean: cfg.data.mean, std: cfg.data.std, ignoreIndex: cfg.model.ignoreIndex,
  };
}

/** 'gamma_1 ×12, relative_position_bias_table ×12' style digest of a key list. */
export function summarizeKeys(keys: string[]): string {
  if (keys.length === 0) return 'none';
  const counts = new Map<string, number>();
  for (const k of keys) {
    const leaf = k.replace(/^backbone\./, '').replace(/^layers\.\d+\./, '');
    counts.set(leaf, (counts.get(leaf) ?? 0) + 1);
  }
  return [...counts].map(([k, c]) => (c > 1 ? `${k} ×${c}` : k)).join(', ');
}
