/** The seed command lines: `tools/test.ts CONFIG CHECKPOINT` prints the same metrics as `mff cls-eval` / `mff seg-eval`. */
import { describe, expect, test, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '../src/backend/init.js';
import { runClsTrain } from '../src/engine/run-cls.js';
import { runSegTrain } from '../src/engine/run-seg.js';
import { smallClsDataset, tinyClsConfig } from './cls/helpers.js';
import { smallScenes, tinySegConfig } from './seg/helpers.js';
import { tempDir } from './engine/temp-dirs.js';

const ROOT = resolve(__dirname, '..');
const env = { ...process.env, MFF_BACKEND: 'wasm' };

function run(args: string[]): { code: number | null; out: string; err: string } {
  // a scratch cwd: evaluations write their default ./work_dirs there, not into the repository
  const r = spawnSync(process.execPath, args, { cwd: tempDir('mff-cwd-'), encoding: 'utf8', env, timeout: 180_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const mff = (...a: string[]) => run([join(ROOT, 'bin/mff.js'), ...a]);
const toolsTest = (...a: string[]) => run([join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'tools/test.ts'), ...a]);

/** Write a config object as a TS config module (what a user's config file is). */
function configFile(obj: unknown): string {
  const f = join(tempDir('mff-cfg-'), 'config.ts');
  writeFileSync(f, `export default ${JSON.stringify(obj, null, 2)};\n`);
  return f;
}

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

describe('tools/test.ts CONFIG CHECKPOINT', () => {
  test('classification: same metric lines as mff cls-eval', async () => {
    const cfg = tinyClsConfig('finetune', { batchSize: 8 });
    cfg.data.root = smallClsDataset(3, 8);
    await runClsTrain(cfg, { quiet: true });
    const ckpt = join(cfg.workDir, 'cls.ckpt');
    const a = mff('cls-eval', '--checkpoint', ckpt);
    const b = toolsTest(configFile(cfg), ckpt);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    const metricLines = (s: string) => s.split('\n').filter((l) => /^(accuracy|mean class|images)/.test(l));
    expect(metricLines(a.err).length).toBe(4);
    expect(metricLines(b.err)).toEqual(metricLines(a.err));
    const json = (s: string) => JSON.parse(s.trim());
    expect(json(b.out)['accuracy/top1']).toBe(json(a.out)['accuracy/top1']);
  });

  test('segmentation: same table and aAcc/mIoU/mAcc as mff seg-eval', async () => {
    const cfg = tinySegConfig(smallScenes(8, 4));
    await runSegTrain(cfg, { quiet: true, noEval: true });
    const ckpt = join(cfg.workDir, 'seg.ckpt');
    const a = mff('seg-eval', '--checkpoint', ckpt, '--work-dir', tempDir('mff-ev-'));
    const b = toolsTest(configFile(cfg), ckpt);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    const metrics = (r: { out: string; err: string }) => {
      const json = JSON.parse(r.out.trim());
      return { aAcc: json.aAcc, mIoU: json.mIoU, mAcc: json.mAcc, images: json.images, table: r.err.slice(r.err.indexOf('aAcc:'), r.err.lastIndexOf('+')) };
    };
    expect(metrics(b)).toEqual(metrics(a));
    expect(metrics(a).table).toContain('per class results');
    expect(Number.isFinite(metrics(a).mIoU)).toBe(true);
  });
});
