/**
 * Listing a dataset tree: files below a directory, following symlinked directories (datasets are often linked
 * into place) but never around a symlink loop, which is reported naming the link.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { BadFiles } from './bad-files.js';

/**
 * Relative paths ('/'-separated) of every file under `dir`, recursively, in directory order. A symlink loop or a
 * broken symlink throws naming the link (or, with `bad` skipping, is recorded and left out).
 */
export function listFilesRecursive(dir: string, bad?: BadFiles): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string, ancestors: Set<string>) => {
    for (const ent of readdirSync(abs, { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${ent.name}` : ent.name;
      const full = join(abs, ent.name);
      let isDir = ent.isDirectory();
      if (ent.isSymbolicLink()) {
        try {
          isDir = statSync(full).isDirectory();
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          const why = e.code === 'ELOOP' ? 'symlink loop' : e.code === 'ENOENT' ? 'broken symlink (target does not exist)' : e.message;
          handle(bad, full, new Error(`${full}: ${why}`));
          continue;
        }
      }
      if (!isDir) {
        out.push(childRel);
        continue;
      }
      const real = realpathSync(full);
      // a link to a directory that holds this one (itself, a parent, or higher) leads back here forever
      if ([...ancestors].some((a) => a === real || a.startsWith(real + sep))) {
        handle(bad, full, new Error(`${full}: symlink loop (points to ${real}, a directory above it)`));
        continue;
      }
      walk(full, childRel, new Set([...ancestors, real]));
    }
  };
  walk(dir, '', new Set([realpathSync(dir)]));
  return out;
}

function handle(bad: BadFiles | undefined, file: string, err: Error): void {
  if (!bad) throw err;
  bad.handle(file, err);
}
