/** A tiny UperNet config on a small copy of the bundled scenes, for fast end-to-end seg tests. */
import { cpSync, readdirSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import base from '../../configs/upernet/upernet_mff-vit-mini-p4_1xb8-300i_scenes-mini-32x32.js';
import type { SegConfig } from '../../src/config/seg.js';
import { tempDir } from '../engine/temp-dirs.js';

export const SCENES = resolve(__dirname, '../../datasets/scenes-mini');

/** Copy the first `train` / `val` scenes (images + annotations + meta.json) into a temp ADE tree. */
export function smallScenes(train = 8, val = 4): string {
  const root = tempDir('mff-scenes-');
  cpSync(join(SCENES, 'meta.json'), join(root, 'meta.json'));
  for (const [split, n] of [['training', train], ['validation', val]] as const) {
    for (const kind of ['images', 'annotations']) {
      mkdirSync(join(root, kind, split), { recursive: true });
      for (const f of readdirSync(join(SCENES, kind, split)).sort().slice(0, n)) cpSync(join(SCENES, kind, split, f), join(root, kind, split, f));
    }
  }
  return root;
}

export function tinySegConfig(root: string, over: Partial<SegConfig> = {}): SegConfig {
  const b = structuredClone(base);
  const D = 16;
  return {
    ...b,
    model: {
      ...b.model,
      backbone: { ...b.model.backbone, embedDims: D, numLayers: 4, numHeads: 2, patchSize: 8, outIndices: [0, 1, 2, 3] },
      decodeHead: { ...b.model.decodeHead, inChannels: [D, D, D, D], channels: 8, poolScales: [1, 2] },
      auxiliaryHead: { ...b.model.auxiliaryHead!, inChannels: D, channels: 8 },
    },
    data: { ...b.data, root, concurrency: 3, prefetch: 4 },
    schedule: { ...b.schedule, maxIters: 4, warmupIters: 2 },
    batchSize: 4,
    workDir: tempDir('mff-segwd-'),
    logInterval: 1,
    checkpointInterval: 2,
    ...over,
  };
}
