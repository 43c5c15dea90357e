/** Ctrl-C during `mff pretrain` saves the resume state and exits 130; `--resume` continues from there. */
import { expect, test } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { smallDataset } from './helpers.js';
import { tempDir } from '../engine/temp-dirs.js';

const BIN = resolve(__dirname, '../../bin/mff.js');

const tiny = [
  '--cfg-options', 'model.arch={"embedDims":32,"numLayers":2,"numHeads":2,"feedforwardChannels":64}',
  '--cfg-options', 'model.imgSize=16',
  '--cfg-options', 'data.pipeline.size=16',
  '--cfg-options', 'model.outIndices=[0,1]',
  '--cfg-options', 'model.decoder.embedDims=16',
  '--cfg-options', 'model.decoder.depth=1',
  '--cfg-options', 'batchSize=8',
  '--cfg-options', 'schedule.epochs=500',
  '--cfg-options', 'logInterval=1',
  '--cfg-options', 'checkpointInterval=1000',
];

test('SIGINT saves the resume state, exits 130, and --resume continues', async () => {
  const data = smallDataset(2, 8);
  const wd = tempDir('mff-sigint-');
  const args = [BIN, 'pretrain', '--data', data, '--work-dir', wd, ...tiny];
  const child = spawn(process.execPath, args, { env: { ...process.env, MFF_BACKEND: 'wasm' } });
  let err = '';
  const code: number | null = await new Promise((done) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/pretrain\s+3\//.test(err) && !child.killed) child.kill('SIGINT');
    });
    child.on('exit', (c) => done(c));
  });
  expect(err).toContain('SIGINT');
  expect(code).toBe(130);
  expect(existsSync(join(wd, 'resume.safetensors'))).toBe(true);
  const stopped = JSON.parse(readFileSync(join(wd, 'summary.json'), 'utf8'));
  expect(stopped.interrupted).toBe(true);
  const k = stopped.iterations as number;
  expect(k).toBeGreaterThanOrEqual(3);

  const r = spawnSync(process.execPath, [...args, '--resume', '--cfg-options', `maxIters=${k + 2}`], { encoding: 'utf8', env: { ...process.env, MFF_BACKEND: 'wasm' } });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toContain(`resumed from ${join(wd, 'resume.safetensors')} at iteration ${k}`);
  const iters = readFileSync(join(wd, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).iter);
  expect(iters).toEqual(Array.from({ length: k + 2 }, (_, i) => i + 1));
});
