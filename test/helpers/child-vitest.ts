/**
 * Children with other environment variables (another engine, backend or kernel path): rerun test files in a child
 * vitest and require a pass; run an ES-module script that prints a JSON array of numbers; compare two such outputs.
 */
import { expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export function expectChildVitestPasses(files: string[], env: Record<string, string>, timeoutMs: number, testNamePattern?: string): void {
  const vitest = join(process.cwd(), 'node_modules', 'vitest', 'vitest.mjs');
  const r = spawnSync(process.execPath, [vitest, 'run', ...files, ...(testNamePattern ? ['-t', testNamePattern] : [])], { env: { ...process.env, ...env, CI: '1' }, encoding: 'utf8', timeout: timeoutMs });
  const out = `${r.stdout}\n${r.stderr}`;
  expect(r.status, out.slice(-4000)).toBe(0);
  expect(out).toMatch(/Tests\s.*passed/);
  expect(out).not.toMatch(/\bfailed\b/);
}

/** Runs `script` (an ES module; imports are relative to the checkout) with env added, and returns the JSON array of
 * numbers it writes to stdout. */
export function numbersFromChildScript(script: string, env: Record<string, string>): number[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: process.cwd(), env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20,
  });
  expect(r.status, `${r.error ?? ''}\n${r.stderr.slice(-2000)}`).toBe(0);
  return JSON.parse(r.stdout) as number[];
}

/** Two kernel paths over the same inputs: `other` must differ from `base` in more than a tenth of its elements (so the
 * path was really taken) while each element stays within tol of base's (|a - b| / (1 + |b|)). */
export function expectOtherBitsSameValues(other: number[], base: number[], tol: number): void {
  expect(other.length).toBe(base.length);
  let differ = 0;
  let worst = 0;
  for (let i = 0; i < other.length; i++) {
    if (other[i] !== base[i]) differ++;
    worst = Math.max(worst, Math.abs(other[i] - base[i]) / (1 + Math.abs(base[i])));
  }
  expect(differ).toBeGreaterThan(other.length / 10);
  expect(worst).toBeLessThan(tol);
}
