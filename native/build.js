#!/usr/bin/env node
/**
 * Builds native/build/mff_native.node (N-API addon over OpenBLAS) with the system C compiler from native/src/*.c
 * (kernels.c: the plain C kernels; avx512.c: the hand-vectorised AVX-512 kernels; mff_native.c: the N-API
 * wrappers); no node-gyp and no downloads: Node's own
 * headers (<prefix>/include/node) and libopenblas (Debian: libopenblas-dev) are used.
 * Never fails the install: on any problem it prints one line and exits 0; mff then runs on the pure wasm path.
 *   node native/build.js [--quiet]     (MFF_NATIVE_BUILD=0 skips the build)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'mff_native.node');
const srcs = ['mff_native.c', 'kernels.c', 'avx512.c'].map((f) => join(here, 'src', f));
const quiet = process.argv.includes('--quiet');

function done(msg) {
  console.log(`[mff native] ${msg}`);
  process.exit(0);
}

if (process.env.MFF_NATIVE_BUILD === '0') done('build skipped (MFF_NATIVE_BUILD=0); using the wasm engine');
if (process.platform !== 'linux' && process.platform !== 'darwin') done(`not built on ${process.platform}; using the wasm engine`);
const incCandidates = [resolve(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const inc = incCandidates.find((d) => existsSync(join(d, 'node_api.h')));
if (!inc) done('node_api.h not found (Node headers); using the wasm engine');
const cc = process.env.CC || 'cc';
mkdirSync(dirname(out), { recursive: true });
// Built beside the target and renamed over it: a running job that has the old library mapped keeps its copy.
const tmp = out.replace(/\.node$/, `.${process.pid}.tmp.node`);
const base = ['-O3', '-fno-math-errno', '-fPIC', '-shared', '-std=c11', '-DNODE_GYP_MODULE_NAME=mff_native', `-I${inc}`, '-o', tmp, ...srcs];
const link = ['-lopenblas', '-lm', '-pthread', ...(process.platform === 'linux' ? ['-ldl'] : [])];
// macOS: Homebrew's OpenBLAS (keg-only: not on the default paths). Accelerate is not used: the engine sets
// OpenBLAS's thread count and sizes its own worker pool from it (kernels.c mff_set_threads / par_wanted).
if (process.platform === 'darwin') {
  for (const prefix of ['/opt/homebrew/opt/openblas', '/usr/local/opt/openblas']) {
    if (existsSync(join(prefix, 'lib'))) link.unshift(`-I${join(prefix, 'include')}`, `-L${join(prefix, 'lib')}`, `-Wl,-rpath,${join(prefix, 'lib')}`);
  }
}
const attempts = [
  [...base, '-march=native', '-mprefer-vector-width=512', ...link],
  [...base, '-march=native', ...link],
  [...base, ...link],
];
if (process.platform === 'darwin') for (const a of attempts) a.push('-undefined', 'dynamic_lookup');
let lastErr = '';
for (const args of attempts) {
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      // Load it in a child so a broken library cannot take this process down.
      execFileSync(process.execPath, ['-e', `require(${JSON.stringify(tmp)})`], { stdio: 'pipe' });
      renameSync(tmp, out);
    } catch (e) {
      lastErr = `built but failed to load: ${String(e.stderr ?? e).split('\n')[0]}`;
      rmSync(tmp, { force: true });
      continue;
    }
    done(`built ${out}${quiet ? '' : ` (${cc} ${args.filter((a) => a.startsWith('-f') || a.startsWith('-m')).join(' ')})`}`);
  } catch (e) {
    lastErr = String(e.stderr ?? e.message ?? e).split('\n').find((l) => l.trim()) ?? 'compiler failed';
  }
}
const how = process.platform === 'darwin' ? 'xcode-select --install && brew install openblas' : 'sudo apt-get install -y build-essential libopenblas-dev';
done(`not built (${lastErr.trim()}); for the fast CPU engine (3-10x faster): ${how} && npm run build:native. Using the wasm engine`);
