/** The command line: bad input gives one clear error naming the file, exit code != 0. */
import { tempDir } from './engine/temp-dirs.js';
import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { smallDataset } from './pretrain/helpers.js';

const BIN = resolve(__dirname, '../bin/mff.js');

function mff(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, MFF_BACKEND: 'wasm' }, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('mff pretrain: bad input', () => {
  test('unknown config key', () => {
    const r = mff('pretrain', '--cfg-options', 'model.nonsense=1', '--work-dir', tempDir('mff-cli-'));
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("unknown config key 'model.nonsense'");
  });

  test('one --cfg-options takes several key=value pairs (mmengine style)', () => {
    const r = mff('pretrain', '--cfg-options', 'batchSize=3', 'model.nonsense=1', '--work-dir', tempDir('mff-cli-'));
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("unknown config key 'model.nonsense'");
  });

  test('type change in an override', () => {
    const r = mff('pretrain', '--cfg-options', 'batchSize=big');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/'batchSize' is a number in the config, got string/);
  });

  test('missing config file', () => {
    const r = mff('pretrain', '--config', 'configs/mff/no-such-config.ts');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('configs/mff/no-such-config.ts: config file not found');
  });

  test('empty dataset directory', () => {
    const root = tempDir('mff-empty-');
    mkdirSync(join(root, 'train'));
    const r = mff('pretrain', '--data', root, '--work-dir', tempDir('mff-cli-'));
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(root);
    expect(r.err.trim().split('\n').filter((l) => l.startsWith('mff: error')).length).toBe(1);
  });

  test('corrupt image names the file', () => {
    const root = smallDataset(2, 8);
    const bad = join(root, 'train', 'Bag', 'zz-corrupt.png');
    writeFileSync(bad, Buffer.from('this is not a png'));
    const r = mff('pretrain', '--data', root, '--work-dir', tempDir('mff-cli-'), '--cfg-options', 'batchSize=17', '--cfg-options', 'maxIters=1');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('zz-corrupt.png');
  });
});
