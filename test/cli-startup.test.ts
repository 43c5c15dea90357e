/**
 * The instant command line: the skeleton (src/cli.ts, src/commands/*) imports nothing heavy at top level, so
 * --help / --version / option errors answer without tfjs, the wasm binary, the native addon or tsx; every option's
 * default is in --help.
 */
import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { engineLine } from '../src/backend/init.js';

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin/mff.js');
const COMMANDS = readdirSync(join(ROOT, 'src/commands')).filter((f) => f.endsWith('.ts') && f !== 'common.ts').map((f) => f.replace(/\.ts$/, ''));

function mff(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The modules reachable from `file` through static, value (non-type) imports. */
function staticGraph(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(/^import\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
    const spec = m[1];
    if (spec.startsWith('.')) staticGraph(resolve(dirname(file), spec.replace(/\.js$/, '.ts')), seen);
    else seen.add(spec);
  }
  return seen;
}

describe('mff command line startup', () => {
  test('the CLI skeleton statically imports only commander, node built-ins and light modules', () => {
    const graph = [...staticGraph(join(ROOT, 'src/cli.ts'))].map((m) => (m.startsWith(ROOT) ? m.slice(ROOT.length + 1) : m));
    expect(graph).toContain('src/commands/pretrain.ts');
    const allowed = (m: string) => m === 'commander' || m.startsWith('node:') || /^src\/(cli|backend\/init|config\/defaults|eval\/shard|commands\/[\w-]+)\.ts$/.test(m);
    expect(graph.filter((m) => !allowed(m)), 'heavy modules must be loaded with await import() inside the action').toEqual([]);
  });

  test('--help lists every command and --version the package version, also on the fallback path', () => {
    const help = mff(['--help']);
    expect(help.code, help.err).toBe(0);
    for (const c of COMMANDS) expect(help.out).toContain(c);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(mff(['--version']).out.trim()).toBe(version);
    // the same answer from the fallback path (tsx, no cache)
    expect(mff(['--version'], { MFF_CLI_CACHE: '0' }).out.trim()).toBe(version);
  });

  test('every option of every command shows its default in --help', () => {
    for (const c of COMMANDS) {
      const out = mff([c, '--help']).out;
      // option entries: lines starting with "  -" up to the next entry
      const entries = out.split('\nOptions:\n')[1].split(/\n(?=\s{2}-)/).map((e) => e.replace(/\s+/g, ' ').trim());
      const lacking = entries.filter((e) => !/^-h, --help/.test(e) && !/default/.test(e) && !/^--(checkpoint)\b/.test(e) && !/\(required\)|makeOptionMandatory/.test(e));
      expect(lacking, `mff ${c} --help`).toEqual([]);
    }
  });

  test('the first line of a command names the engine; the slow path says why and how to fix it', () => {
    // MFF_NATIVE=0: the wasm engine without the addon; the command then fails on a file that is no checkpoint
    const r = mff(['seg-eval', '--checkpoint', join(ROOT, 'package.json')], { MFF_BACKEND: 'wasm', MFF_NATIVE: '0' });
    expect(r.code).not.toBe(0);
    const first = r.err.split('\n')[0];
    expect(first).toBe(engineLine('wasm', 'disabled by MFF_NATIVE=0'));
    expect(first).toMatch(/^\[mff\] engine: wasm — SLOW PATH .*disabled by MFF_NATIVE=0; fix: unset MFF_NATIVE$/);
    expect(engineLine('wasm', '/x/mff_native.node not built (run: node native/build.js)')).toMatch(/not built.*fix: npm run build:native/);
    expect(engineLine('wasm+native-blas')).toBe('[mff] engine: wasm+native-blas (the CPU engine: wasm + OpenBLAS addon)');
  });

  test('an option error is reported by commander, with a hint', () => {
    const r = mff(['pretrain', '--no-such-option']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("unknown option '--no-such-option'");
    expect(r.err).toContain('--help');
  });
});
