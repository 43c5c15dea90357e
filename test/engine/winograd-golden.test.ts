/**
 * The native engine's Winograd convolutions (native/src/kernels.c, wg_wanted) only take convolutions with >= 64
 * channels and >= 2048 output pixels, which the golden fixtures are too small to reach. Here MFF_WINOGRAD=all sends
 * every 3x3 stride-1 convolution through it: first checked to change the bits of a small convolution (so the path is
 * really taken) while staying within float rounding of the direct one, then the mmseg golden UperNet and the 512²
 * mmseg parity test are rerun in a child vitest with it. Skipped without the addon and inside the child.
 */
import { expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { nativeAvailable } from '../../src/backend/native.js';
import { expectChildVitestPasses } from '../helpers/child-vitest.js';

const skip = !nativeAvailable() || process.env.MFF_WINOGRAD !== undefined || process.env.MFF_NATIVE === '0';

/** A 'same' 3x3 convolution [2, 13, 11, 24] x [3, 3, 24, 40] plus its input gradient, in a fresh process with env. */
function convInChild(env: Record<string, string>): number[] {
  const script = `
    import * as tf from '@tensorflow/tfjs';
    import { initBackend } from './src/backend/init.ts';
    await initBackend('wasm', { quiet: true });
    const v = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s));
    const x = tf.tensor4d(v(2 * 13 * 11 * 24, 0.37), [2, 13, 11, 24]);
    const w = tf.tensor4d(v(9 * 24 * 40, 0.71), [3, 3, 24, 40]);
    const up = tf.tensor4d(v(2 * 13 * 11 * 40, 0.13), [2, 13, 11, 40]);
    const y = tf.conv2d(x, w, 1, 'same');
    const gx = tf.grad((a) => tf.sum(tf.mul(tf.conv2d(a, w, 1, 'same'), up)))(x);
    process.stdout.write(JSON.stringify([...y.dataSync(), ...gx.dataSync()]));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: process.cwd(), env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000,
  });
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  return JSON.parse(r.stdout) as number[];
}

test.skipIf(skip)('MFF_WINOGRAD=all takes small convolutions: other bits than the direct path, same values within rounding', () => {
  const wino = convInChild({ MFF_WINOGRAD: 'all' });
  const direct = convInChild({ MFF_WINOGRAD: '0' });
  expect(wino.length).toBe(direct.length);
  let differ = 0;
  let worst = 0;
  for (let i = 0; i < wino.length; i++) {
    if (wino[i] !== direct[i]) differ++;
    worst = Math.max(worst, Math.abs(wino[i] - direct[i]) / (1 + Math.abs(direct[i])));
  }
  expect(differ).toBeGreaterThan(wino.length / 10);
  expect(worst).toBeLessThan(1e-4);
}, 120_000);

test.skipIf(skip)('golden mmseg UperNet and 512² mmseg parity pass with every 3x3 convolution through Winograd', () => {
  expectChildVitestPasses([join('test', 'golden', 'seg-upernet.test.ts'), join('test', 'seg', 'scale-512.test.ts')], { MFF_WINOGRAD: 'all' }, 280_000);
}, 300_000);
