/** The job queue of `mff benchmark --jobs N` (runQueue): slots, dependencies, order, failures. */
import { expect, test } from 'vitest';
import { BenchmarkInterrupted, runQueue, type QueueItem } from '../../src/engine/benchmark/run-benchmark.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A gate: `after` of dependent items; open() resolves it, fail() rejects it. */
function gate() {
  let open!: () => void;
  let fail!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((open = res), (fail = rej)));
  promise.catch(() => {});
  return { promise, open, fail };
}

test('at most n at a time; the earliest ready item first; dependents wait for their gate', async () => {
  const log: string[] = [];
  let running = 0;
  let peak = 0;
  const g = gate();
  const item = (name: string, ms: number, after: Promise<unknown> = Promise.resolve(), then?: () => void): QueueItem => ({
    after,
    go: async () => {
      log.push(`start ${name}`);
      peak = Math.max(peak, ++running);
      await tick(ms);
      running--;
      then?.();
      log.push(`end ${name}`);
    },
  });
  // 'pre' opens the gate of the 'dep*' items; 'free*' need nothing and fill the other slot meanwhile
  await runQueue([item('pre', 40, undefined, g.open), item('dep1', 5, g.promise), item('free1', 10), item('dep2', 5, g.promise), item('free2', 10)], 2);
  expect(peak).toBe(2);
  expect(log.filter((l) => l.startsWith('start'))).toEqual(['start pre', 'start free1', 'start free2', 'start dep1', 'start dep2']);
  expect(log.indexOf('start dep1')).toBeGreaterThan(log.indexOf('end pre'));
});

test('after a failure nothing new starts, running items finish, then the error (an interrupt first) is thrown', async () => {
  const started: string[] = [];
  let slowDone = false;
  const items: QueueItem[] = [
    { after: Promise.resolve(), go: async () => { started.push('slow'); await tick(30); slowDone = true; throw new BenchmarkInterrupted('d'); } },
    { after: Promise.resolve(), go: async () => { started.push('bad'); await tick(5); throw new Error('boom'); } },
    { after: Promise.resolve(), go: async () => { started.push('never'); } },
  ];
  await expect(runQueue(items, 2)).rejects.toBeInstanceOf(BenchmarkInterrupted);
  expect(slowDone).toBe(true);
  expect(started).toEqual(['slow', 'bad']);
});

test('items whose gate fails never start, and the queue does not hang', async () => {
  const g = gate();
  const started: string[] = [];
  const items: QueueItem[] = [
    { after: Promise.resolve(), go: async () => { started.push('pre'); await tick(5); g.fail(new Error('pretraining failed')); throw new Error('pretraining failed'); } },
    { after: g.promise, go: async () => { started.push('dep'); } },
    { after: Promise.resolve(), go: async () => { started.push('free'); await tick(20); } },
  ];
  await expect(runQueue(items, 2)).rejects.toThrow('pretraining failed');
  expect(started).toEqual(['pre', 'free']);
});
