/**
 * Loading weights into a classifier (./classifier.ts).
 *  - loadBackboneFromCheckpoint: mmpretrain `init_cfg=dict(type='Pretrained', prefix='backbone.')`, strict=False.
 *    Takes `backbone.*` from a pretraining (MAE/MFF) or classifier checkpoint; the decoder (`neck.*`), the MFF
 *    fusion (`backbone.proj_layers.*`, `backbone.proj_weights`) and, when fine-tuning (final_norm=False),
 *    `backbone.ln1` are dropped. pos_embed is resized bicubically when the grid differs (VisionTransformer
 *    _prepare_pos_embed -> resize_pos_embed).
 *  - loadClassifierState: a full mmpretrain ImageClassifier state dict, strict.
 */
import type { StTensor } from '../../io/safetensors.js';
import type { LoadReport } from '../../nn/params.js';
import { fitPosEmbed } from '../pos-embed.js';
import type { ClsModel } from './classifier.js';

export interface BackboneLoadReport extends LoadReport {
  /** Checkpoint keys deliberately not loaded (decoder, fusion, ln1 when fine-tuning, non-backbone keys). */
  dropped: string[];
  /** Set when pos_embed was resized: [source grid, model grid]. */
  posEmbedResized?: { from: [number, number]; to: [number, number] };
}

/** A checkpoint's pos_embed fitted to the classifier grid (models/pos-embed.ts fitPosEmbed). */
function fitClsPosEmbed(m: ClsModel, t: StTensor, file: string, key: string): { t: StTensor; from?: [number, number] } {
  const r = fitPosEmbed(t, m.grid, m.arch.embedDims, `${file}: '${key}'`);
  return r.from ? { t: { dtype: 'F32', shape: r.shape, data: r.data }, from: r.from } : { t };
}

function isDropped(m: ClsModel, key: string): boolean {
  if (!key.startsWith('backbone.')) return true;
  if (key.startsWith('backbone.proj_layers.') || key === 'backbone.proj_weights') return true;
  if (m.cfg.mode === 'finetune' && key.startsWith('backbone.ln1.')) return true;
  return false;
}

/**
 * Load the backbone from a checkpoint's tensors. Returns what was loaded, which backbone entries of the model
 * stayed at their init (`missing`, e.g. backbone.ln2 from a pretraining checkpoint), unexpected backbone keys,
 * and the keys dropped on purpose. Shape mismatches throw, naming the file and key.
 */
export function loadBackboneFromCheckpoint(m: ClsModel, tensors: Map<string, StTensor>, opts: { file?: string } = {}): BackboneLoadReport {
  const file = opts.file ?? '<state dict>';
  const src = new Map<string, StTensor>();
  const dropped: string[] = [];
  let posEmbedResized: BackboneLoadReport['posEmbedResized'];
  for (const [key, t] of tensors) {
    if (isDropped(m, key)) {
      dropped.push(key);
      continue;
    }
    if (key === 'backbone.pos_embed') {
      const r = fitClsPosEmbed(m, t, file, key);
      if (r.from) posEmbedResized = { from: r.from, to: [m.grid, m.grid] };
      src.set(key, r.t);
    } else {
      src.set(key, t);
    }
  }
  if (src.size === 0) throw new Error(`${file}: no 'backbone.*' weights to load (is this an mmpretrain checkpoint?)`);
  const r = m.params.load(src, { file });
  const missing = r.missing.filter((n) => n.startsWith('backbone.'));
  return { loaded: r.loaded, missing, unexpected: r.unexpected, dropped, posEmbedResized };
}

/** Load a full classifier state dict (backbone + neck + head) strictly; pos_embed is resized if the grid differs. */
export function loadClassifierState(m: ClsModel, tensors: Map<string, StTensor>, opts: { file?: string } = {}): LoadReport {
  const file = opts.file ?? '<state dict>';
  const src = new Map(tensors);
  const pe = tensors.get('backbone.pos_embed');
  if (pe) src.set('backbone.pos_embed', fitClsPosEmbed(m, pe, file, 'backbone.pos_embed').t);
  return m.params.load(src, { file, strict: true });
}
