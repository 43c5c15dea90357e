/**
 * Crash safety (issue 12 §2): kill -9 at random points of cls-train and seg-train, then --resume, ends with the
 * weights of an uninterrupted run bit for bit (pretraining: test/pretrain, test/engine/train-loop); the work-dir lock;
 * a finished or interrupted work dir is not overwritten by accident; a full disk fails with one line and keeps the
 * last good state.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../src/backend/init.js';
import { runClsTrain } from '../../src/engine/run-cls.js';
import { runSegTrain } from '../../src/engine/run-seg.js';
import { runPretrain } from '../../src/engine/run-pretrain.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { fsOps, writeFileAtomic } from '../../src/io/atomic.js';
import { LOCK_FILE, STALE_LOCK_S } from '../../src/io/work-dir.js';
import { CASES, makeCase } from '../fixtures/faults/make.js';
import { tinyLinear, tinyPretrain, tinySeg } from '../fixtures/faults/run.js';
import { tempDir } from '../engine/temp-dirs.js';

const BIN = resolve(__dirname, '../../bin/mff.js');
let data: { cls: string; seg: string };

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
  data = await makeCase(tempDir('mff-crash-data-'), CASES[0]);
});

afterEach(() => {
  fsOps.writeSync = realWriteSync;
});
const realWriteSync = fsOps.writeSync;

function weights(file: string): Map<string, number[]> {
  return new Map([...loadCheckpoint(file).tensors].map(([k, v]) => [k, Array.from(v.data)]));
}

function metricLines(wd: string): number {
  const f = join(wd, 'metrics.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l.includes('"loss"')).length : 0;
}

/** Run `mff <args>` and SIGKILL it a random 0–40 ms after metrics.jsonl has `atLine` step lines. */
function runAndKill(args: string[], wd: string, atLine: number): Promise<number | null> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
  return new Promise((done) => {
    const poll = setInterval(() => {
      if (metricLines(wd) >= atLine) {
        clearInterval(poll);
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 40));
      }
    }, 5);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (signal !== 'SIGKILL') console.error(`mff ${args.join(' ')}: exit ${code} before the kill\n${err}`);
      done(signal === 'SIGKILL' ? null : code);
    });
  });
}

/** A config module holding `cfg` as plain data (what `--config` imports). */
function configFile(cfg: object): string {
  const f = join(tempDir('mff-crash-cfg-'), 'config.mts'); // .mts: ESM outside the package
  writeFileSync(f, `export default ${JSON.stringify(cfg)};\n`);
  return f;
}

describe('kill -9 at random points, then --resume: the uninterrupted weights, bit for bit', () => {
  const cases = [
    { cmd: 'cls-train', make: (wd: string) => ({ ...tinyLinear(data.cls, wd), batchSize: 2, checkpointInterval: 1, schedule: { ...tinyLinear('', '').schedule, epochs: 4 } }), ckpt: 'cls.ckpt', extra: [] as string[] },
    { cmd: 'seg-train', make: (wd: string) => ({ ...tinySeg(data.seg, wd), checkpointInterval: 1, schedule: { ...tinySeg('', '').schedule, maxIters: 10 } }), ckpt: 'seg.ckpt', extra: ['--no-eval'] },
  ] as const;
  for (const c of cases) {
    test(c.cmd, async () => {
      const ref = c.make(tempDir('mff-crash-ref-'));
      const s = c.cmd === 'cls-train' ? await runClsTrain(ref as ReturnType<typeof tinyLinear>, { quiet: true }) : await runSegTrain(ref as ReturnType<typeof tinySeg>, { quiet: true, noEval: true });
      const total = s.iterations;
      expect(total).toBeGreaterThanOrEqual(10);
      const wd = tempDir('mff-crash-wd-');
      const args = [c.cmd, '--config', configFile(c.make(wd)), '--quiet', ...c.extra];
      // a real process killed at a random step (mid-step or mid-save); one per task keeps the suite cheap, as a
      // process start costs seconds here. The resume runs in-process on the same engine.
      const kill = 2 + Math.floor(Math.random() * (total - 4));
      expect(await runAndKill(args, wd, kill), 'the run was killed').toBeNull();
      expect(existsSync(join(wd, LOCK_FILE)), 'a killed run leaves its lock').toBe(true);
      const cfg = c.make(wd);
      const resumed = c.cmd === 'cls-train' ? await runClsTrain(cfg as ReturnType<typeof tinyLinear>, { quiet: true, resume: true }) : await runSegTrain(cfg as ReturnType<typeof tinySeg>, { quiet: true, noEval: true, resume: true });
      expect(resumed.iterations).toBe(total);
      const a = weights(join(ref.workDir, c.ckpt));
      const b = weights(join(wd, c.ckpt));
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [k, v] of a) expect(b.get(k), `${k} (killed after step ${kill})`).toEqual(v);
      const iters = readFileSync(join(wd, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'loss' in l).map((l) => l.iter);
      expect(iters).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(readdirSync(wd).filter((f) => f.endsWith('.tmp') || f === LOCK_FILE || f === 'resume.safetensors')).toEqual([]);
    });
  }
});

describe('work dir', () => {
  test('a live lock refuses the run; a dead process\'s lock and temp files are taken over', async () => {
    const cfg = tinyPretrain(data.cls, tempDir('mff-lock-'));
    writeFileSync(join(cfg.workDir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), started: 'then', argv: ['mff', 'pretrain'] }));
    await expect(runPretrain(cfg, { quiet: true })).rejects.toThrow(`${cfg.workDir} is in use by another run (pid ${process.ppid}, started then: mff pretrain; lock file ${join(cfg.workDir, LOCK_FILE)})`);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(cfg.workDir, LOCK_FILE), JSON.stringify({ pid: dead, host: hostname(), started: 'then', argv: [] }));
    writeFileSync(join(cfg.workDir, `.resume.safetensors.${dead}.tmp`), 'half a file');
    const s = await runPretrain(cfg, { quiet: true });
    expect(s.interrupted).toBe(false);
    expect(readdirSync(cfg.workDir).filter((f) => f.endsWith('.tmp') || f === LOCK_FILE)).toEqual([]);
    // another host's lock (shared storage): refused while it is touched, taken over once it is stale (a preempted pod)
    const other = tinyPretrain(data.cls, tempDir('mff-lock-host-'));
    const lock = join(other.workDir, LOCK_FILE);
    writeFileSync(lock, JSON.stringify({ pid: 1, host: 'node-7', started: 'then', argv: [] }));
    await expect(runPretrain(other, { quiet: true })).rejects.toThrow(`in use by another run (pid 1 on host node-7, started then; lock file ${lock})`);
    const old = new Date(Date.now() - (STALE_LOCK_S + 60) * 1000);
    utimesSync(lock, old, old);
    expect((await runPretrain(other, { quiet: true })).interrupted).toBe(false);
  });

  test('a finished run is refused unless --force; --resume has nothing to do; an interrupted one needs --resume or --force', async () => {
    const cfg = tinyPretrain(data.cls, tempDir('mff-finished-'));
    const first = await runPretrain(cfg, { quiet: true });
    await expect(runPretrain(cfg, { quiet: true })).rejects.toThrow(`${cfg.workDir} holds a finished run (iteration 1/1, ${join(cfg.workDir, 'summary.json')}): pass --force`);
    const again = await runPretrain(cfg, { quiet: true, resume: true });
    expect(again.final_loss).toBe(first.final_loss);
    const forced = await runPretrain({ ...cfg, maxIters: 0, schedule: { ...cfg.schedule, epochs: 2 } }, { quiet: true, force: true });
    expect(forced.iterations).toBe(2);
    const part = { ...cfg, schedule: { ...cfg.schedule, epochs: 3 }, maxIters: 1 };
    await runPretrain(part, { quiet: true, force: true }); // stops at 1 of 3 with a resume state
    await expect(runPretrain({ ...part, maxIters: 0 }, { quiet: true })).rejects.toThrow(`${cfg.workDir} holds an interrupted run (${join(cfg.workDir, 'resume.safetensors')}): continue it with --resume, or start over with --force`);
    expect((await runPretrain({ ...part, maxIters: 0 }, { quiet: true, resume: true })).iterations).toBe(3);
  });

  test('a full disk during a save: one line, the previous resume state kept and resumable', async () => {
    const cfg = { ...tinyPretrain(data.cls, tempDir('mff-enospc-')), schedule: { ...tinyPretrain('', '').schedule, epochs: 4 }, checkpointInterval: 1 };
    const ref = await runPretrain({ ...cfg, workDir: tempDir('mff-enospc-ref-') }, { quiet: true });
    let saves = 0;
    fsOps.writeSync = ((fd: number, buf: Uint8Array, off: number, len: number) => {
      if (len > 10_000 && ++saves === 3) {
        realWriteSync(fd, buf, off, Math.floor(len / 2)); // half written, then the disk is full
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return realWriteSync(fd, buf, off, len);
    }) as typeof fsOps.writeSync;
    const err: Error = await runPretrain(cfg, { quiet: true }).then(() => new Error('no error'), (e: Error) => e);
    fsOps.writeSync = realWriteSync;
    expect(err.message).toBe(`cannot write ${join(cfg.workDir, 'resume.safetensors')}: no space left on device (ENOSPC); the previous version of the file, if any, is unchanged`);
    expect(readdirSync(cfg.workDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(loadCheckpoint(join(cfg.workDir, 'resume.safetensors')).meta!.iteration).toBe(2);
    const s = await runPretrain(cfg, { quiet: true, resume: true });
    expect(s.final_loss).toBe(ref.final_loss);
  });

  test('writeFileAtomic: an unwritable target fails with one line naming it', () => {
    const dir = tempDir('mff-unwritable-');
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => writeFileAtomic(join(dir, 'file', 'summary.json'), '{}')).toThrow(`cannot create directory ${join(dir, 'file')}:`);
  });
});
