/**
 * Both CPU engines: this process runs with the native addon when it is built; here the kernel tests, every golden
 * parity test (pretrain, cls, seg vs the real mmpretrain/mmseg), the heap-growth test and the 512² mmseg parity test
 * are rerun in a child vitest with MFF_NATIVE=0, so the pure wasm engine is checked in every suite run. Skipped inside
 * that child (no recursion).
 */
import { expect, test } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expectChildVitestPasses } from '../helpers/child-vitest.js';

test.skipIf(process.env.MFF_NATIVE === '0')('kernels, golden parity, heap growth and 512² parity pass with MFF_NATIVE=0 (pure wasm engine)', () => {
  const golden = readdirSync(join(process.cwd(), 'test', 'golden'))
    .filter((f) => f.endsWith('.test.ts') && !['stock-cpu.test.ts', 'vendored.test.ts'].includes(f))
    .map((f) => `test/golden/${f}`);
  expect(golden.length).toBeGreaterThan(5);
  expectChildVitestPasses(['test/engine/kernels.test.ts', ...golden, 'test/nn/heap-growth.test.ts', 'test/seg/scale-512.test.ts'], { MFF_NATIVE: '0' }, 280_000);
}, 300_000);
