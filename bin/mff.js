#!/usr/bin/env node
// The `mff` command. The sources are TypeScript, run through tsx (a dependency), so configs stay plain .ts files.
//
// Fast path: tsx costs ~0.5 s of CPU before the first line (a loader thread + esbuild), which is what made
// `mff --help` slow. The command-line skeleton (src/cli.ts, src/commands/*, and the few constants they import;
// nothing of tfjs) is therefore bundled once with esbuild into a cache file and run by plain Node: --help,
// --version and option errors answer without tsx. src/cli.ts registers tsx in commander's preAction hook (told so
// by MFF_CLI_FAST=1), i.e. only once a command really runs; its modules then load from their .ts sources as before.
// The cache is rebuilt when one of its input files changes (size or mtime); any failure falls back to running
// src/cli.ts under tsx directly (also forced by MFF_CLI_CACHE=0).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src', 'cli.ts');

async function viaTsx() {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(entry).href);
}

/** Cache location: per user and per checkout (several worktrees may share one node_modules). */
function cachePaths() {
  const key = createHash('sha256').update(root).digest('hex').slice(0, 16);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  const dir = join(tmpdir(), `mff-cli-${uid}`);
  return { dir, bundle: join(dir, `${key}.mjs`), inputs: join(dir, `${key}.json`) };
}

function fresh(paths) {
  try {
    const inputs = JSON.parse(readFileSync(paths.inputs, 'utf8'));
    statSync(paths.bundle);
    return inputs.every(([file, size, mtime]) => {
      const s = statSync(file);
      return s.size === size && s.mtimeMs === mtime;
    });
  } catch {
    return false;
  }
}

async function build(paths) {
  const require = createRequire(createRequire(import.meta.url).resolve('tsx'));
  const esbuild = await import(pathToFileURL(require.resolve('esbuild')).href);
  // dynamic imports stay dynamic, pointing at their sources by absolute URL (loaded under tsx at run time)
  const lazy = {
    name: 'mff-lazy-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        const url = args.path.startsWith('.')
          ? pathToFileURL(resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'))).href
          : import.meta.resolve(args.path); // a package: its ESM entry (same node_modules as this file)
        return { path: url, external: true };
      });
      // each bundled module keeps its own import.meta.url (paths relative to its source file stay right)
      b.onLoad({ filter: /\.ts$/ }, (args) => ({
        contents: readFileSync(args.path, 'utf8').replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
        loader: 'ts',
      }));
    },
  };
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: root,
    plugins: [lazy],
    banner: { js: "import { createRequire as __mffCreateRequire } from 'node:module'; const require = __mffCreateRequire(" + JSON.stringify(pathToFileURL(entry).href) + ');' },
  });
  // the sources of the bundle, and this file (how the bundle is made)
  const inputs = [...Object.keys(r.metafile.inputs).map((f) => resolve(root, f)), fileURLToPath(import.meta.url)].map((abs) => {
    const s = statSync(abs);
    return [abs, s.size, s.mtimeMs];
  });
  mkdirSync(paths.dir, { recursive: true });
  const tmp = `${paths.bundle}.${process.pid}.tmp`;
  writeFileSync(tmp, r.outputFiles[0].contents);
  renameSync(tmp, paths.bundle);
  writeFileSync(`${paths.inputs}.${process.pid}.tmp`, JSON.stringify(inputs));
  renameSync(`${paths.inputs}.${process.pid}.tmp`, paths.inputs);
}

async function main() {
  if (process.env.MFF_CLI_CACHE === '0') return viaTsx();
  const paths = cachePaths();
  try {
    if (!fresh(paths)) await build(paths);
  } catch (e) {
    if (process.env.MFF_DEBUG) console.error('[mff] cli cache unavailable, running under tsx:', e);
    return viaTsx();
  }
  process.env.MFF_CLI_FAST = '1'; // src/cli.ts registers tsx before a command's action runs
  await import(pathToFileURL(paths.bundle).href);
}

await main();
