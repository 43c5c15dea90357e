/** GradAccumulator: the mean of the added gradients (checked against a hand sum), ownership, no leaks. */
import { expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.js';
import { GradAccumulator, checkLoss } from '../../src/engine/loop.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

test('averages over accumSteps micro-batches, keyed by parameter name; take() resets; no leak', () => {
  const before = tf.memory().numTensors;
  const acc = new GradAccumulator(3, new Map([['v1', 'a.weight'], ['v2', 'a.bias']]));
  const g = [
    [[1, 2], [10]],
    [[3, 4], [20]],
    [[5, 9], [60]],
  ];
  g.forEach(([w, b], i) => {
    expect(acc.full).toBe(false);
    acc.add({ v1: tf.tensor1d(w), v2: tf.tensor1d(b) }, i + 1);
  });
  expect(acc.full).toBe(true);
  const { grads, loss } = acc.take();
  expect(loss).toBeCloseTo((1 + 2 + 3) / 3, 12);
  expect(Array.from(grads.get('a.weight')!.dataSync())).toEqual([3, 5].map(Math.fround));
  expect(Array.from(grads.get('a.bias')!.dataSync())[0]).toBeCloseTo(30, 5);
  tf.dispose([...grads.values()]);
  expect(acc.full).toBe(false);
  acc.add({ v1: tf.tensor1d([1, 1]) }, 0);
  acc.dispose();
  expect(tf.memory().numTensors).toBe(before);
  expect(() => acc.add({ nope: tf.tensor1d([1]) }, 0)).toThrow(/unknown variable 'nope'/);
});

test('checkLoss names the iteration, batch and file', () => {
  expect(() => checkLoss(1.5, { iteration: 3, epoch: 0, batch: 2, workDir: '/w' })).not.toThrow();
  expect(() => checkLoss(NaN, { iteration: 3, epoch: 1, batch: 2, file: 'a.png', workDir: '/w' })).toThrow(
    /loss became NaN at iteration 3 \(epoch 1, batch 2, first file a\.png\); stopping without overwriting the last good state in \/w/,
  );
});
