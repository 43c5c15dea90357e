/**
 * Taking a work dir for a training run: one run per work dir (a lock file), a finished run is not overwritten by
 * accident, an interrupted one not restarted by accident, and temp files left by a killed process are removed.
 *
 *   mff.lock      {pid, host, started, argv} of the run holding the dir, touched every minute while it runs. Stale,
 *                 and taken over with a note: a pid that is dead on this host (kill -9, power loss), or a lock of
 *                 another host untouched for STALE_LOCK_S (a preempted pod or node: clusters restart jobs elsewhere).
 *                 Removed when the run ends.
 *   finished run  summary.json says not interrupted and iteration = total, and there is no resume state:
 *                 refused unless --force (train again) or --resume (nothing left to do: the stored summary).
 *   interrupted   resume.safetensors exists: refused unless --resume (continue) or --force (start over).
 */
import { existsSync, openSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureDir, TEMP_FILE, writeError } from './atomic.js';

export const LOCK_FILE = 'mff.lock';

/** A lock of another host untouched this long (seconds) is stale. */
export const STALE_LOCK_S = 15 * 60;
const TOUCH_MS = 60_000;

interface LockInfo {
  pid: number;
  host: string;
  started: string;
  argv: string[];
}

/** True if a process with this pid runs on this machine. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockInfo | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return null; // torn or foreign: treated as stale below
  }
}

/**
 * The run holding `<workDir>/mff.lock`, described in one line, or null when the lock is absent or stale (a dead pid
 * on this host, or another host's lock untouched for STALE_LOCK_S). For callers that delete a work dir to restart it.
 */
export function liveLockHolder(workDir: string): string | null {
  const file = join(workDir, LOCK_FILE);
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) return null;
  const other = readLock(file);
  if (!other) return null;
  if (other.host !== hostname()) return (Date.now() - st.mtimeMs) / 1000 < STALE_LOCK_S ? `pid ${other.pid} on host ${other.host} (lock file ${file})` : null;
  return pidAlive(other.pid) && other.pid !== process.pid ? `pid ${other.pid}, started ${other.started} (lock file ${file})` : null;
}

/** Take `<workDir>/mff.lock`; returns the release function. */
export function lockWorkDir(workDir: string, log: (msg: string) => void): () => void {
  ensureDir(workDir);
  const file = join(workDir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString(), argv: process.argv.slice(1) };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw writeError(file, err);
      const other = readLock(file);
      const idle = (Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0)) / 1000;
      if (other && other.host !== me.host && idle < STALE_LOCK_S) {
        throw new Error(
          `${workDir} is in use by another run (pid ${other.pid} on host ${other.host}, started ${other.started}; lock file ${file}): ` +
            'use another --work-dir, or delete the lock file if that run is gone',
        );
      }
      if (other && other.host === me.host && pidAlive(other.pid)) {
        throw new Error(
          `${workDir} is in use by another run (pid ${other.pid}, started ${other.started}: ${other.argv.join(' ')}; lock file ${file}): ` +
            'wait for it to finish or use another --work-dir',
        );
      }
      const why = !other ? 'an unreadable lock file' : other.host !== me.host ? `pid ${other.pid} on ${other.host}, untouched for ${Math.round(idle / 60)} min` : `pid ${other.pid} (no longer running)`;
      log(`[mff] ${file}: stale lock of ${why}, taking over`);
      rmSync(file, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me) + '\n');
    } catch (err) {
      closeSync(fd);
      rmSync(file, { force: true });
      throw writeError(file, err);
    }
    closeSync(fd);
    break;
  }
  removeStaleTempFiles(workDir);
  let held = true;
  const heartbeat = setInterval(() => {
    const now = new Date();
    try {
      utimesSync(file, now, now);
    } catch {
      /* a vanished lock is not this run's problem to report */
    }
  }, TOUCH_MS).unref();
  const release = () => {
    if (!held) return;
    held = false;
    clearInterval(heartbeat);
    process.off('exit', release);
    const cur = readLock(file);
    if (cur && cur.pid === process.pid) rmSync(file, { force: true });
  };
  process.on('exit', release); // process.exit (a second Ctrl-C) skips finally blocks
  return release;
}

/** Temp files (`.<name>.<pid>.tmp`) of processes that no longer run: what a kill -9 mid-write leaves. */
export function removeStaleTempFiles(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = TEMP_FILE.exec(name);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

export type WorkDirState =
  | { kind: 'empty' }
  | { kind: 'interrupted'; resumeFile: string }
  | { kind: 'finished'; summaryFile: string; summary: Record<string, unknown> };

/** What a work dir holds: nothing yet, an interrupted run (resume state), or a finished run. */
export function workDirState(workDir: string, resumeFile: string): WorkDirState {
  if (existsSync(join(workDir, resumeFile))) return { kind: 'interrupted', resumeFile: join(workDir, resumeFile) };
  const summaryFile = join(workDir, 'summary.json');
  if (!existsSync(summaryFile)) return { kind: 'empty' };
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, unknown>;
  } catch {
    return { kind: 'empty' };
  }
  const done = s.interrupted === false && typeof s.iterations === 'number' && typeof s.total_iterations === 'number' && s.iterations >= s.total_iterations;
  return done ? { kind: 'finished', summaryFile, summary: s } : { kind: 'empty' };
}

/**
 * The start-of-run policy: throws for a finished run without --resume/--force and for an interrupted run
 * without --resume/--force; returns the stored summary when --resume meets a finished run (nothing to do).
 */
export function checkWorkDir(workDir: string, resumeFile: string, o: { resume: boolean; force: boolean; log: (msg: string) => void }): Record<string, unknown> | null {
  const st = workDirState(workDir, resumeFile);
  if (st.kind === 'finished') {
    const at = `iteration ${String(st.summary.iterations)}/${String(st.summary.total_iterations)}`;
    if (o.force) {
      o.log(`[mff] --force: ${workDir} holds a finished run (${at}); training again and overwriting it`);
      return null;
    }
    if (o.resume) {
      o.log(`[mff] --resume: ${workDir} holds a finished run (${at}); nothing to do (${st.summaryFile})`);
      return st.summary;
    }
    throw new Error(`${workDir} holds a finished run (${at}, ${st.summaryFile}): pass --force to train again and overwrite it, or use another --work-dir`);
  }
  if (st.kind === 'interrupted' && !o.resume) {
    if (o.force) {
      o.log(`[mff] --force: discarding the interrupted run's resume state ${st.resumeFile}`);
      return null;
    }
    throw new Error(`${workDir} holds an interrupted run (${st.resumeFile}): continue it with --resume, or start over with --force`);
  }
  return null;
}
