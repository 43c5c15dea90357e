/**
 * Both CPU engines: this process runs with the native addon when it is built; here kernels.test.ts, the pretrain
 * golden parity test (forward + gradients vs mmpretrain) , the heap-growth test and the 512² mmseg parity test are rerun in a child vitest with MFF_NATIVE=0, so the
 * pure wasm fallback is exercised in every suite run. Skipped inside that child (no recursion).
 */
import { test, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

test.skipIf(process.env.MFF_NATIVE === '0')('kernels, pretrain golden and heap growth pass with MFF_NATIVE=0 (pure wasm engine)', () => {
  const vitest = join(process.cwd(), 'node_modules', 'vitest', 'vitest.mjs');
  const r = spawnSync(process.execPath, [vitest, 'run', 'test/engine/kernels.test.ts', 'test/golden/pretrain.test.ts', 'test/nn/heap-growth.test.ts', 'test/seg/scale-512.test.ts'], {
    env: { ...process.env, MFF_NATIVE: '0', CI: '1' },
    encoding: 'utf8',
    timeout: 240_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  expect(r.status, out.slice(-4000)).toBe(0);
  expect(out).toMatch(/Tests\s.*passed/);
  expect(out).not.toMatch(/\bfailed\b/);
}, 250_000);
