/**
 * The production path as far as this machine can check it (issue 9): the golden parity tests rerun on the stock
 * tfjs `cpu` backend — no kernel override, no fused op (the fused ops fall back to composed tfjs ops off the wasm
 * engine, backend/fused.ts) — i.e. the op set tfjs-node / tfjs-node-gpu execute. Skipped inside that child.
 */
import { expect, test } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expectChildVitestPasses } from '../helpers/child-vitest.js';

test.skipIf(process.env.MFF_BACKEND === 'cpu')('golden parity tests pass on the stock tfjs cpu backend', () => {
  const files = readdirSync(join(process.cwd(), 'test', 'golden'))
    .filter((f) => f.endsWith('.test.ts') && !['stock-cpu.test.ts', 'vendored.test.ts'].includes(f))
    .map((f) => `test/golden/${f}`);
  expect(files.length).toBeGreaterThan(5);
  expectChildVitestPasses(files, { MFF_BACKEND: 'cpu' }, 240_000);
}, 250_000);
