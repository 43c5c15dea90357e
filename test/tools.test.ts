/** The seed command lines: `tools/test.ts CONFIG CHECKPOINT` prints the same metrics as `mff cls-eval` / `mff seg-eval`. */
import { describe, expect, test, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../src/backend.js';
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
  const f = join(mkdtempSync(join(tmpdir(), 'mff-cfg-')), 'config.ts');
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
    const metricLines = (s: string) => s.split('\n').filter((l) => /top|accuracy/i.test(l) && !l.includes(tmpdir()));
    expect(metricLines(a.out).length).toBeGreaterThan(0);
    expect(metricLines(b.out)).toEqual(metricLines(a.out));
  });

  test('segmentation: same table and aAcc/mIoU/mAcc as mff seg-eval', async () => {
    const cfg = tinySegConfig(smallScenes(8, 4));
    await runSegTrain(cfg, { quiet: true, noEval: true });
    const ckpt = join(cfg.workDir, 'seg.ckpt');
    const a = mff('seg-eval', '--checkpoint', ckpt, '--work-dir', mkdtempSync(join(tmpdir(), 'mff-ev-')));
    const b = toolsTest(configFile(cfg), ckpt);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    const metrics = (s: string) => {
      const json = JSON.parse(s.trim().split('\n').pop()!);
      return { aAcc: json.aAcc, mIoU: json.mIoU, mAcc: json.mAcc, images: json.images, table: s.slice(0, s.lastIndexOf('\n{')) };
    };
    expect(metrics(b.out)).toEqual(metrics(a.out));
    expect(Number.isFinite(metrics(a.out).mIoU)).toBe(true);
  });
});
