/**
 * Atomic file writes and one-line write errors. Every output (checkpoints, resume state, summaries, plots,
 * prediction PNGs / JSON lines) goes through `writeFileAtomic`: a temp file beside the target, fsync, rename. A
 * crash or a full disk mid-write leaves the previous version of the target untouched and no partial file visible
 * (a stale temp file of a killed process is removed by the next run on that work dir, io/work-dir.ts).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The fs calls a write goes through; tests swap `writeSync` to simulate a full disk. */
export const fsOps = { writeSync, renameSync };

/** Temp files are `.<name>.<pid>.tmp` beside their target. */
export const TEMP_FILE = /^\..+\.(\d+)\.tmp$/;

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a parent path is a file, not a directory',
  EISDIR: 'is a directory',
  EIO: 'I/O error',
};

/** `<what> <file>: <reason> (<CODE>)<tail>` for an fs error, on one line. */
export function writeError(file: string, err: unknown, tail = ''): Error {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? '';
  const reason = REASONS[code] ?? (e instanceof Error ? e.message.split('\n')[0] : String(err));
  return new Error(`cannot write ${file}: ${reason}${code ? ` (${code})` : ''}${tail}`, { cause: err });
}

/** mkdir -p, failing with one line that names the directory. */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot create directory ${dir}: ${REASONS[e.code ?? ''] ?? e.message}${e.code ? ` (${e.code})` : ''}`, { cause: err });
  }
}

/** Write `data` to `file` atomically (temp + fsync + rename). On failure the previous `file` is kept. */
export function writeFileAtomic(file: string, data: Buffer | Uint8Array | string): void {
  ensureDir(dirname(file));
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (err) {
    throw writeError(file, err);
  }
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += fsOps.writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fsOps.renameSync(tmp, file);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    throw writeError(file, err, '; the previous version of the file, if any, is unchanged');
  }
}
