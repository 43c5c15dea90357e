/**
 * A run under node's CPU profiler (`--cpu-prof`, `--prof`: SIGPROF sampling) keeps its GEMMs off oneDNN: Debian's
 * libdnnl 2.6 corrupts the C heap when SIGPROF lands inside dnnl_sgemm (src/backend/native.ts underSigprofProfiler).
 * The child below crashes ("corrupted size vs. prev_size") within a second or two of GEMMs when oneDNN is used.
 */
import { expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { nativeAvailable, underSigprofProfiler } from '../../src/backend/native.js';
import { tempDir } from './temp-dirs.js';

test('profiler flags are recognised on the command line and in NODE_OPTIONS, and nothing else', () => {
  expect(underSigprofProfiler(['--cpu-prof'], '')).toBe(true);
  expect(underSigprofProfiler(['--cpu-prof-dir=/tmp/x', '--cpu-prof'], '')).toBe(true);
  expect(underSigprofProfiler([], '--max-old-space-size=4096 --prof')).toBe(true);
  expect(underSigprofProfiler(['--cpu-prof-dir=/tmp/x'], '')).toBe(false);
  expect(underSigprofProfiler(['--prof-process', '--import', 'tsx'], '--enable-source-maps')).toBe(false);
  expect(underSigprofProfiler([], '')).toBe(false);
});

test.skipIf(!nativeAvailable() || process.env.MFF_NATIVE === '0')('GEMMs under --cpu-prof: the process survives, on OpenBLAS', () => {
  const dir = tempDir('mff-cpuprof-');
  const script = `
    import * as tf from '@tensorflow/tfjs';
    import { initBackend } from './src/backend/init.ts';
    import { nativeGemmLib } from './src/backend/native.ts';
    await initBackend(undefined, { quiet: true });
    const a = tf.randomNormal([512, 512]), b = tf.randomNormal([512, 512]);
    const t0 = Date.now();
    while (Date.now() - t0 < 2500) tf.matMul(a, b).dispose();
    process.stdout.write(nativeGemmLib());`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.MFF_DNNL;
  delete env.MFF_BLAS_THREADS;
  const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: process.cwd(), env, encoding: 'utf8', timeout: 60_000,
  });
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  expect(r.stdout).toBe('openblas');
  expect(r.stderr).toContain('CPU profiler');
});
