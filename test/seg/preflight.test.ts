/**
 * seg-train's memory pre-flight (issue 14): on the wasm engine a config whose estimated step peak exceeds the 4 GB
 * heap is refused before the first step with the estimate, the limit and what fits; other configs pass. The estimate
 * is checked against a measured heap peak in the bench (`npm run bench -- --only seg-train-ade`), not here.
 */
import { expect, test } from 'vitest';
import { loadSegConfig } from '../../src/config/seg.js';
import { checkSegTrainFits } from '../../src/engine/seg-setup.js';
import { estimateSegTrainMemory, WASM_HEAP_LIMIT } from '../../src/models/seg/memory.js';

const S_CFG = 'configs/upernet/upernet_mff-vit-s16_8xb2-160k_ade20k-512x512.ts';
const B_CFG = 'configs/upernet/upernet_mff-vit-b16_8xb2-160k_ade20k-512x512.ts';
const opts = (o: string[]) => ({ cfgOptions: ['batchSize=2', 'pretrained=', ...o] });

test('ViT-S 512² batch 2 with the config default withCp fits; without withCp it is refused and withCp is offered', async () => {
  const cfg = await loadSegConfig(S_CFG, opts([]));
  expect(cfg.model.backbone.withCp).toBe(true);
  expect(() => checkSegTrainFits(cfg, 66.78e6, 'wasm+native-blas')).not.toThrow();
  const noCp = await loadSegConfig(S_CFG, opts(['model.backbone.withCp=false']));
  expect(() => checkSegTrainFits(noCp, 66.78e6, 'wasm')).toThrow(/estimated peak memory [\d.]+ GB for batch 2 at 512² .*exceeds the wasm engine's 4\.0 GB heap; fits: model\.backbone\.withCp=true/);
});

test('ViT-B 512² batch 2 is refused with a smaller crop that fits; not checked on other engines', async () => {
  const cfg = await loadSegConfig(B_CFG, opts([]));
  let msg = '';
  try {
    checkSegTrainFits(cfg, 163e6, 'wasm');
  } catch (e) {
    msg = (e as Error).message;
  }
  const crop = /crop (\d+)² with withCp/.exec(msg);
  expect(crop, msg).not.toBeNull();
  const S = Number(crop![1]);
  expect(S % (2 * cfg.model.backbone.patchSize)).toBe(0);
  // the suggested crop fits by the same estimate, the next larger one does not
  const at = (s: number) => estimateSegTrainMemory({ ...cfg.model, backbone: { ...cfg.model.backbone, imgSize: s, withCp: true } }, 2, { params: 163e6, optimizerOnHeap: false }).total;
  expect(at(S)).toBeLessThanOrEqual(WASM_HEAP_LIMIT);
  expect(at(S + 2 * cfg.model.backbone.patchSize)).toBeGreaterThan(WASM_HEAP_LIMIT);
  expect(() => checkSegTrainFits(cfg, 163e6, 'tensorflow')).not.toThrow();
});
