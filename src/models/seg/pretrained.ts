/**
 * Initialise the seg backbone from an mmpretrain MAE/MFF pretraining checkpoint, as mmseg MAE.init_weights does with
 * init_cfg=Pretrained: resize_abs_pos_embed (bicubic, cls row kept) then load_state_dict(strict=False).
 * Source keys may carry the mmpretrain `backbone.` prefix (a whole pretraining model) or not (a bare backbone);
 * everything else in a whole model (`neck.*` = the MAE decoder, `head.*`, `data_preprocessor.*`) is skipped.
 * The ViT weights map one to one (same mmcv names: ln1, attn.qkv with its full bias, attn.proj, ln2,
 * ffn.layers.0.0, ffn.layers.1, patch_embed.projection, cls_token, pos_embed). Pretraining-only keys (the final
 * `ln1`, MFF's `proj_layers.*` / `proj_weights`, `mask_token`) are reported as expected-unexpected, and the BEiT-only
 * entries (gamma_1/2 = initValues, zero relative-position tables, the index buffer) as expected-missing: they keep
 * their init. `missing` / `unexpected` hold only the rest, i.e. what deserves a warning.
 */
import type { StTensor } from '../../io/safetensors.js';
import type { LoadReport } from '../../nn/params.js';
import { fitPosEmbed } from '../pos-embed.js';
import type { SegModel } from './segmentor.js';

export interface PretrainLoadReport extends LoadReport {
  /** Source keys outside the backbone (decoder, heads), not considered. */
  skipped: string[];
  /** Missing on purpose: BEiT-only entries a MAE/MFF pretraining has no counterpart for (they keep their init). */
  expectedMissing: string[];
  /** Unexpected on purpose: pretraining-only entries (final ln1, MFF fusion, mask token) the seg backbone drops. */
  expectedUnexpected: string[];
  /** What the MFF fusion weights in the checkpoint say about its algorithm: 'mff', 'mae' (a ViT without them). */
  algorithm: 'mff' | 'mae';
  /** Set when pos_embed was resized: [source grid, target grid]. */
  posEmbedResized: [[number, number], [number, number]] | null;
}

export function loadBackboneFromPretrain(model: SegModel, ckpt: Map<string, StTensor>, opts: { file?: string } = {}): PretrainLoadReport {
  const file = opts.file ?? '<pretrain checkpoint>';
  const prefixed = [...ckpt.keys()].some((k) => k.startsWith('backbone.'));
  const skipped: string[] = [];
  const src = new Map<string, StTensor>();
  for (const [k, t] of ckpt) {
    if (prefixed && !k.startsWith('backbone.')) {
      skipped.push(k);
      continue;
    }
    src.set(prefixed ? k : `backbone.${k}`, t);
  }
  if (src.size === 0) throw new Error(`${file}: no backbone weights found (${ckpt.size} keys, none under 'backbone.')`);

  // resize_abs_pos_embed: the grid is square on both sides in mmseg's MAE.
  let posEmbedResized: PretrainLoadReport['posEmbedResized'] = null;
  const pe = src.get('backbone.pos_embed');
  if (pe) {
    const c = model.cfg.backbone;
    const g = c.imgSize / c.patchSize;
    const f = fitPosEmbed(pe, g, c.embedDims, `${file}: pos_embed`);
    if (f.from) {
      src.set('backbone.pos_embed', { dtype: 'F32', shape: f.shape, data: f.data });
      posEmbedResized = [f.from, [g, g]];
    }
  }

  const r = model.params.load(src, { file });
  const unexpectedAll = r.unexpected.map((k) => (prefixed ? k : k.slice('backbone.'.length)));
  const missingAll = r.missing.filter((n) => n.startsWith('backbone.'));
  if (r.loaded.length === 0) throw new Error(`${file}: no key matched the seg backbone (unexpected: ${unexpectedAll.slice(0, 8).join(', ')})`);
  const beitOnly = (k: string) => /\.(gamma_[12]|attn\.relative_position_(bias_table|index))$/.test(k);
  const pretrainOnly = (k: string) => /(^|\.)(ln1\.(weight|bias)|proj_layers\..*|proj_weights|mask_token)$/.test(k) && !/layers\.\d+\.ln1\./.test(k);
  return {
    loaded: r.loaded,
    missing: missingAll.filter((k) => !beitOnly(k)),
    unexpected: unexpectedAll.filter((k) => !pretrainOnly(k)),
    expectedMissing: missingAll.filter(beitOnly),
    expectedUnexpected: unexpectedAll.filter(pretrainOnly),
    skipped,
    posEmbedResized,
    algorithm: unexpectedAll.some((k) => /proj_weights$/.test(k)) ? 'mff' : 'mae',
  };
}
