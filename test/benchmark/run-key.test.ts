/**
 * The benchmark's run cache keys (src/engine/benchmark/run-benchmark.ts configKey / runDir): independent of where the
 * checkout and the suite folder are, and a finished run filed under an earlier version's key is moved, not re-run.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configKey, runDir } from '../../src/engine/benchmark/run-benchmark.js';
import { packagePath } from '../../src/config/resolve.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'mff-runkey-'));
  dirs.push(d);
  return d;
};

describe('benchmark run keys', () => {
  test('paths under the suite folder and under the package are keyed relative to them', () => {
    const out = tmp();
    const cfg = (root: string, pool: string) => ({ data: { root, pool }, seed: 1, workDir: '/anywhere' });
    const here = configKey(cfg(packagePath('datasets/scenes-shape'), join(out, 'data', 'pool')), out, { task: 't' });
    // the same config from a checkout elsewhere and a suite folder elsewhere
    const other = '/elsewhere/suite';
    expect(configKey(cfg('<pkg>/datasets/scenes-shape', join(other, 'data', 'pool')), other, { task: 't' })).toBe(here);
    // earlier versions keyed the package path absolutely
    expect(configKey(cfg(packagePath('datasets/scenes-shape'), join(out, 'data', 'pool')), out, { task: 't' }, true)).not.toBe(here);
    // what the key must still see: the seed, the task
    expect(configKey({ ...cfg(packagePath('datasets/scenes-shape'), ''), seed: 2 }, out, { task: 't' })).not.toBe(configKey(cfg(packagePath('datasets/scenes-shape'), ''), out, { task: 't' }));
    expect(configKey(cfg('a', 'b'), out, { task: 'u' })).not.toBe(configKey(cfg('a', 'b'), out, { task: 't' }));
  });

  test('runDir moves a finished run from its legacy-key folder (key and run_dir updated); nothing else is touched', () => {
    const out = tmp();
    const cfg = { data: { root: packagePath('datasets/scenes-shape') }, seed: 0 };
    const legacy = configKey(cfg, out, { task: 'seg-x' }, true);
    const oldDir = join(out, 'runs', 'seg-x', `mff-s0-${legacy}`);
    mkdirSync(oldDir, { recursive: true });
    writeFileSync(join(oldDir, 'result.json'), JSON.stringify({ key: legacy, run_dir: `runs/seg-x/mff-s0-${legacy}`, value: 35.03 }));
    writeFileSync(join(oldDir, 'seg.ckpt'), 'weights');
    const { key, dir } = runDir(out, 'seg-x', 'mff-s0', cfg, { task: 'seg-x' });
    expect(key).toBe(configKey(cfg, out, { task: 'seg-x' }));
    expect(dir).toBe(join(out, 'runs', 'seg-x', `mff-s0-${key}`));
    expect(existsSync(oldDir)).toBe(false);
    expect(readFileSync(join(dir, 'seg.ckpt'), 'utf8')).toBe('weights');
    const r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
    expect(r).toEqual({ key, run_dir: `runs/seg-x/mff-s0-${key}`, value: 35.03 });
    // an unfinished legacy folder (no result.json) stays where it is; a run that exists under the new key wins
    const unfinished = join(out, 'runs', 'seg-y', `mff-s0-${configKey(cfg, out, { task: 'seg-y' }, true)}`);
    mkdirSync(unfinished, { recursive: true });
    const y = runDir(out, 'seg-y', 'mff-s0', cfg, { task: 'seg-y' });
    expect(existsSync(unfinished)).toBe(true);
    expect(existsSync(y.dir)).toBe(false);
  });
});
