/**
 * Options and output shared by every command. Like every file under src/commands/, this imports nothing heavy at
 * top level (see src/cli.ts): the run* modules are `await import()`ed inside each action.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option } from 'commander';
import { BACKENDS } from '../backend/init.js';

export function backendOption(): Option {
  return new Option('--backend <name>', 'tfjs backend (auto = tfjs-node-gpu > tfjs-node > wasm > cpu; env MFF_BACKEND)')
    .choices(BACKENDS)
    .default(process.env.MFF_BACKEND ?? 'auto');
}

/** `--quiet`: no progress line and no [mff] log lines on stderr; results (stdout) and errors still print. */
export function quietOption(): Option {
  return new Option('-q, --quiet', 'print nothing on stderr but errors (no progress line)').default(false);
}

export function collect(value: string, prev: string[]): string[] {
  return [...prev, value];
}

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

/** `--skip-bad-files`: skip unreadable images / annotations and count them in the summary (default: stop, naming the file). */
export function skipBadFilesOption(): Option {
  return new Option('--skip-bad-files', 'skip images/annotations that cannot be used (logged, counted in summary.json bad_files) instead of stopping').default(false);
}

/** `--force`: train in a work dir that holds a finished or interrupted run (overwriting it). */
export function forceOption(): Option {
  return new Option('--force', 'train even if --work-dir holds a finished run or an interrupted one (overwrites it; --resume continues instead)').default(false);
}

/**
 * The one machine-readable result of a command: its summary as a single JSON line on stdout (everything a person
 * reads goes to stderr). NaN/Infinity are kept as strings, as in summary.json.
 */
export function printJsonSummary(summary: object): void {
  console.log(JSON.stringify(summary, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x)));
}

/**
 * The most basic errors first: every file or folder named on the command line must exist, checked before the
 * config is loaded or any check of its values runs. `paths` maps the option (e.g. '--backbone') to its value.
 */
export function requirePaths(paths: Record<string, string | undefined>): void {
  const packageRoot = fileURLToPath(new URL('../..', import.meta.url)); // bundled data (datasets/…) is found from anywhere
  for (const [option, path] of Object.entries(paths)) {
    if (path && !existsSync(path) && !existsSync(join(packageRoot, path))) throw new Error(`${option} ${path}: no such file or directory`);
  }
}
