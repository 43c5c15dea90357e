/** mmseg LoadAnnotations parity: an 8-bit grayscale PNG decoded with and without reduce_zero_label. */
import { tempDir } from '../engine/temp-dirs.js';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadFixture } from '../helpers/golden.js';
import { readLabelPng, reduceZeroLabel, writeLabelPng } from '../../src/data/seg/labels.js';

const fx = loadFixture('reduce-zero-label');

test('annotation PNG -> LoadAnnotations(reduce_zero_label = true / false)', async () => {
  const src = fx.inputs.annotation_png_values;
  const [h, w] = src.shape as [number, number];
  const file = join(tempDir('rzl-'), 'ann.png');
  await writeLabelPng(file, Uint8Array.from(src.data), w, h);
  const label = await readLabelPng(file);
  expect([label.height, label.width]).toEqual([h, w]);
  expect(Array.from(label.data)).toEqual(fx.expected.reduce_zero_label_false.data);
  expect(Array.from(reduceZeroLabel(label.data))).toEqual(fx.expected.reduce_zero_label_true.data);
});
