/** The reconstruction grid: mmpretrain's panel conventions, no tensor leak, a decodable, non-blank PNG of the expected size. */
import { describe, expect, test, beforeAll } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { buildPretrainModel } from '../../src/models/mae.js';
import { loadReconImages, reconPanels, reconScale, writeReconGrid, RECON_COLUMNS } from '../../src/engine/recon.js';
import { Rng } from '../../src/io/rng.js';
import { smallDataset, tinyConfig } from '../pretrain/helpers.js';
import { tempDir } from './temp-dirs.js';
import { pngStats } from '../helpers/png.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

describe('reconstruction grid', () => {
  const cfg = tinyConfig(smallDataset(2, 3)); // 6 train images, no val split: the grid falls back to train

  test('panels follow mmpretrain: masked = mean colour on removed patches, paste = original on kept ones', async () => {
    const model = buildPretrainModel(cfg.model, new Rng(1));
    try {
      const batch = await loadReconImages(cfg, 4);
      expect(batch.files).toHaveLength(4);
      const before = tf.memory().numTensors;
      const rows = reconPanels(model, batch, cfg.data.mean, cfg.data.std);
      expect(tf.memory().numTensors).toBe(before);
      expect(rows).toHaveLength(4);
      const S = cfg.model.imgSize;
      const mean = cfg.data.mean.map(Math.round);
      let removedPx = 0;
      for (const [orig, masked, rec, paste] of rows) {
        for (const im of [orig, masked, rec, paste]) expect([im.width, im.height]).toEqual([S, S]);
        for (let i = 0; i < S * S; i++) {
          const px = (im: { data: Uint8Array }) => Array.from(im.data.subarray(i * 3, i * 3 + 3));
          const removed = px(masked).every((v, c) => v === mean[c]) && !px(orig).every((v, c) => v === mean[c]);
          if (removed) {
            removedPx++;
            expect(px(paste)).toEqual(px(rec));
          } else {
            expect(px(masked)).toEqual(px(orig));
            expect(px(paste)).toEqual(px(orig));
          }
        }
      }
      // 75 % of the patches are removed (pixels that happen to equal the mean colour are counted as kept)
      expect(removedPx / (4 * S * S)).toBeGreaterThan(0.6);
      expect(removedPx / (4 * S * S)).toBeLessThanOrEqual(cfg.model.maskRatio);

      const file = join(tempDir('mff-recon-'), 'grid.png');
      await writeReconGrid(file, rows, 'MFF ViT, test');
      const st = await pngStats(file);
      const cell = S * reconScale(S);
      expect(st.format).toBe('png');
      expect(st.width).toBe(RECON_COLUMNS.length * cell + 5 * 6);
      expect(st.height).toBe(44 + 4 * (cell + 6) + 6);
      expect(st.stdev).toBeGreaterThan(10);
    } finally {
      model.params.dispose();
    }
  });
});
