/**
 * The production path as far as this machine can check it (issue 9): the golden parity tests rerun on the stock
 * tfjs `cpu` backend — no kernel override, no fused op (the fused ops fall back to composed tfjs ops off the wasm
 * engine, nn/fast-kernels.ts) — i.e. the op set tfjs-node / tfjs-node-gpu execute. Skipped inside that child.
 */
import { expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

test.skipIf(process.env.MFF_BACKEND === 'cpu')('golden parity tests pass on the stock tfjs cpu backend', () => {
  const vitest = join(process.cwd(), 'node_modules', 'vitest', 'vitest.mjs');
  const files = readdirSync(join(process.cwd(), 'test', 'golden'))
    .filter((f) => f.endsWith('.test.ts') && !['stock-cpu.test.ts', 'vendored.test.ts'].includes(f))
    .map((f) => `test/golden/${f}`);
  expect(files.length).toBeGreaterThan(5);
  const r = spawnSync(process.execPath, [vitest, 'run', ...files], {
    env: { ...process.env, MFF_BACKEND: 'cpu', CI: '1' },
    encoding: 'utf8',
    timeout: 240_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  expect(r.status, out.slice(-4000)).toBe(0);
  expect(out).toMatch(/Tests\s.*passed/);
  expect(out).not.toMatch(/\bfailed\b/);
}, 250_000);
