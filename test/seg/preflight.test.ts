/**
 * seg-train's memory pre-flight (issue 14): on the wasm engine a config whose estimated step peak exceeds the 4 GB
 * heap is refused before the first step with the estimate, the limit and what fits (one line); other configs pass. The estimate
 * is checked against a measured heap peak in the bench (`npm run bench -- --only seg-train-ade`), not here.
 */
import { expect, test } from 'vitest';
import { ParamStore } from '../../src/nn/params.js';
import { Rng } from '../../src/io/rng.js';
import { addUperHead } from '../../src/models/seg/uper-head.js';
import { loadSegConfig } from '../../src/config/seg.js';
import { checkSegTrainFits } from '../../src/engine/seg-setup.js';
import { estimateSegTrainMemory, uperHeadParams, WASM_HEAP_LIMIT } from '../../src/models/seg/memory.js';

const S_CFG = 'configs/upernet/upernet_mff-vit-s16_8xb2-160k_ade20k-512x512.ts';
const B_CFG = 'configs/upernet/upernet_mff-vit-b16_8xb2-160k_ade20k-512x512.ts';
const opts = (o: string[]) => ({ cfgOptions: ['batchSize=2', 'pretrained=', ...o] });

test('ViT-S 512² batch 2 with the config default withCp fits; without withCp at batch 4 it is refused and withCp is offered', async () => {
  const cfg = await loadSegConfig(S_CFG, opts([]));
  expect(cfg.model.backbone.withCp).toBe(true);
  expect(() => checkSegTrainFits(cfg, 66.78e6, 'wasm+native-blas')).not.toThrow();
  const noCp = await loadSegConfig(S_CFG, { cfgOptions: ['batchSize=4', 'pretrained=', 'model.backbone.withCp=false'] });
  expect(() => checkSegTrainFits(noCp, 66.78e6, 'wasm')).toThrow(/^seg-train: estimated peak memory [\d.]+ GB for batch 4 at 512² .*exceeds the wasm engine's 4\.0 GB heap; fits: model\.backbone\.withCp=true/);
});

test('ViT-B 512² batch 2 fits on both wasm engines (measured heap peak: docs/memory.md); at batch 4 it is refused in one line with a smaller crop that fits', async () => {
  const cfg = await loadSegConfig(B_CFG, opts([]));
  const P = 176.51e6; // seg-train's ViT-B UperNet + FCN aux head
  for (const pureWasm of [false, true]) {
    const e = estimateSegTrainMemory(cfg.model, 2, { params: P, optimizerOnHeap: false, pureWasm });
    expect(e.total).toBeLessThanOrEqual(WASM_HEAP_LIMIT);
  }
  expect(() => checkSegTrainFits(cfg, P, 'wasm')).not.toThrow();
  const big = await loadSegConfig(B_CFG, { cfgOptions: ['batchSize=4', 'pretrained='] });
  let msg = '';
  try {
    checkSegTrainFits(big, P, 'wasm');
  } catch (e) {
    msg = (e as Error).message;
  }
  expect(msg.split('\n')).toHaveLength(1);
  expect(msg).toMatch(/^seg-train: estimated peak memory [\d.]+ GB for batch 4 at 512² \(weights [\d.]+ GB \+ the larger of gradients/);
  const crop = /crop (\d+)² with withCp/.exec(msg);
  expect(crop, msg).not.toBeNull();
  const S = Number(crop![1]);
  expect(S % (2 * cfg.model.backbone.patchSize)).toBe(0);
  // the suggested crop fits by the same estimate, the next larger one does not
  const at = (s: number) => estimateSegTrainMemory({ ...cfg.model, backbone: { ...cfg.model.backbone, imgSize: s, withCp: true } }, 4, { params: P, optimizerOnHeap: false }).total;
  expect(at(S)).toBeLessThanOrEqual(WASM_HEAP_LIMIT);
  expect(at(S + 2 * cfg.model.backbone.patchSize)).toBeGreaterThan(WASM_HEAP_LIMIT);
  expect(() => checkSegTrainFits(big, P, 'tensorflow')).not.toThrow();
});

test('uperHeadParams = the conv weights addUperHead registers (BN vectors and the conv_seg bias aside)', () => {
  const c = { inChannels: [16, 16, 16, 16], inIndex: [0, 1, 2, 3], channels: 8, poolScales: [1, 2, 3, 6], dropoutRatio: 0.1, numClasses: 5, lossWeight: 1 };
  const p = new ParamStore();
  addUperHead(p, new Rng(0), c);
  const convWeights = p.trainableNames().filter((n) => /conv(_seg)?\.weight$/.test(n)).reduce((a, n) => a + p.get(n).size, 0);
  expect(convWeights).toBeGreaterThan(0);
  expect(uperHeadParams(c)).toBe(convWeights);
  p.dispose();
});
