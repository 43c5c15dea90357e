/** Rerun test files in a child vitest with other environment variables (another engine or backend) and require a pass. */
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
