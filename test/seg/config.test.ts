/** Seg configs: every shipped config resolves and validates; bad values are named. */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DEFAULT_SEG_CONFIG, loadSegConfig } from '../../src/config/seg.js';
import { mmsegLayerDecayGroups } from '../../src/engine/param-groups.js';
import { lrAt, warmupPoly } from '../../src/engine/schedule.js';

const DIR = resolve(__dirname, '../../configs/upernet');

describe('seg configs', () => {
  test.each(readdirSync(DIR).filter((f) => f.endsWith('.ts')))('%s validates', async (f) => {
    const cfg = await loadSegConfig(join(DIR, f));
    expect(cfg.task).toBe('seg');
    expect(cfg.data.train.cropSize).toEqual([cfg.model.backbone.imgSize, cfg.model.backbone.imgSize]);
  });

  test('the 160k ADE20K recipes match mmseg (ViT-B and the 384-d ViT-S)', async () => {
    const b = await loadSegConfig('configs/upernet/upernet_mff-vit-b16_8xb2-160k_ade20k-512x512.ts');
    expect(b.model.backbone).toMatchObject({ imgSize: 512, patchSize: 16, embedDims: 768, numLayers: 12, outIndices: [3, 5, 7, 11], initValues: 1 });
    expect(b.model.decodeHead).toMatchObject({ inChannels: [768, 768, 768, 768], channels: 768, numClasses: 150 });
    expect(b.testCfg).toEqual({ mode: 'slide', crop: [512, 512], stride: [341, 341] });
    expect(b.batchSize).toBe(16);
    const s = await loadSegConfig('configs/upernet/upernet_mff-vit-s16_8xb2-160k_ade20k-512x512.ts');
    expect(s.model.backbone).toMatchObject({ embedDims: 384, numHeads: 6, numLayers: 12 });
    expect(s.model.decodeHead.inChannels).toEqual([384, 384, 384, 384]);
    expect(s.model.auxiliaryHead!.inChannels).toBe(384);
    // schedule_160k: LinearLR(1e-6) 1500 iters, then PolyLR(power 1, eta_min 0)
    const sched = warmupPoly({ warmupIters: b.schedule.warmupIters, totalIters: b.schedule.maxIters, startFactor: b.schedule.warmupStartFactor });
    expect(lrAt(0, sched, b.optim.lr)).toBeCloseTo(1e-10, 15);
    expect(lrAt(1500, sched, b.optim.lr)).toBeCloseTo(1e-4, 12);
    expect(lrAt(80000, sched, b.optim.lr)).toBeCloseTo(1e-4 * (1 - 78500 / 158499), 12);
    // layer decay 0.65: heads at lr, embeddings at 0.65^13
    const g = mmsegLayerDecayGroups(['backbone.pos_embed', 'decode_head.conv_seg.weight'], new Map([['backbone.pos_embed', [1, 1025, 768]], ['decode_head.conv_seg.weight', [150, 768, 1, 1]]]), {
      numLayers: 12, layerDecayRate: b.optim.layerDecayRate, weightDecay: b.optim.weightDecay, baseLr: b.optim.lr,
    });
    expect(g.get('backbone.pos_embed')!.lrScale).toBeCloseTo(0.65 ** 13, 12);
    expect(g.get('decode_head.conv_seg.weight')!.lrScale).toBe(1);
  });

  test('flags and --cfg-options override; bad values are named', async () => {
    const cfg = await loadSegConfig(DEFAULT_SEG_CONFIG, { data: '/x/ade', workDir: '/tmp/w', backbone: 'a.ckpt', cfgOptions: ['schedule.maxIters=70'] });
    expect(cfg).toMatchObject({ pretrained: 'a.ckpt', workDir: '/tmp/w', schedule: { maxIters: 70 }, data: { root: '/x/ade' } });
    await expect(loadSegConfig(DEFAULT_SEG_CONFIG, { cfgOptions: ['schedule.maxIter=7'] })).rejects.toThrow(/unknown config key 'schedule.maxIter'/);
    await expect(loadSegConfig(DEFAULT_SEG_CONFIG, { cfgOptions: ['data.train.cropSize=[48,48]'] })).rejects.toThrow(/cropSize \[48, 48\] must equal model.backbone.imgSize 32/);
    await expect(loadSegConfig(DEFAULT_SEG_CONFIG, { cfgOptions: ['evalMetrics=["mIOU"]'] })).rejects.toThrow(/evalMetrics: 'mIOU'/);
    await expect(loadSegConfig(DEFAULT_SEG_CONFIG, { cfgOptions: ['model.decodeHead.inChannels=[64,64,64,64]'] })).rejects.toThrow(/decodeHead.inChannels has 64/);
    await expect(loadSegConfig('configs/mff/mff_vit-mini-p4_1xb64-coslr-20e_fashion-mnist.ts')).rejects.toThrow(/not a segmentation config/);
  });
});
