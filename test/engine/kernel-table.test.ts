/**
 * The CPU engine's one table (src/backend/registry.ts): its header lists every row, and what registerFastKernels()
 * reports is exactly the rows that apply to this process (with the addon: all of them; MFF_NATIVE=0: no 'needs' row),
 * each backed by a registered wasm kernel or gradient. kernels-both.test.ts does not rerun this file; the assertions
 * branch on the engine this process has.
 */
import { beforeAll, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/init.js';
import { nativeAvailable } from '../../src/backend/native.js';
import { KERNELS, registerFastKernels } from '../../src/backend/registry.js';

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
});

test('the header of registry.ts names every row of the table', () => {
  const src = readFileSync(join(process.cwd(), 'src/backend/registry.ts'), 'utf8');
  const header = src.slice(0, src.indexOf('*/'));
  const missing = KERNELS.filter((r) => !new RegExp(`\\b${r.name}\\b`).test(header)).map((r) => r.name);
  expect(missing).toEqual([]);
});

test('the registration summary is the table: names, native marks, and each one registered', () => {
  const r = registerFastKernels();
  expect(r.native).toBe(nativeAvailable());
  const label = (row: (typeof KERNELS)[number]) => (row.how === 'grad' ? `grad:${row.name}` : row.name);
  const applies = KERNELS.filter((row) => row.native !== 'needs' || r.native);
  const want = [...new Set(applies.map(label))];
  // a fill the stock backend has is not registered (and not listed); here both fills are missing from tfjs-backend-wasm 4.22
  expect(r.kernels.map((k) => k.replace(/\*$/, '')).sort()).toEqual(want.sort());
  for (const k of r.kernels) {
    const base = k.replace(/\*$/, '');
    const name = base.replace(/^grad:/, '');
    if (base.startsWith('grad:')) expect(tf.getGradient(name), k).toBeDefined();
    else expect(tf.getKernel(name, 'wasm'), k).toBeDefined();
    // '*' exactly when the addon is in use and a row of that name calls it
    expect(k.endsWith('*'), k).toBe(r.native && KERNELS.some((row) => label(row) === base && row.native !== undefined));
  }
});
