/**
 * ImageNet-style image folders, as mmpretrain `CustomDataset` reads them.
 *
 * Layout `<root>/<split>/<class>/**\/<image>`: class folders sorted by name give label ids 0..C-1; inside each,
 * files are listed recursively and sorted by relative path. Or an annotation file, one `relative/path.jpg label`
 * per line (split at the last space), paths relative to `<root>/<split>`.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { BadFiles } from './bad-files.js';
import { listFilesRecursive } from './walk.js';

/** mmpretrain's IMG_EXTENSIONS (plus .webp), matched case-insensitively. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

export interface ImageRecord {
  /** absolute path */
  file: string;
  label: number;
}

export interface ImageFolderDataset {
  root: string;
  split: string;
  classes: string[];
  records: ImageRecord[];
}

export function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** Python-style code-point order (mmpretrain sorts with `list.sort()`). */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function requireDir(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${what} ${path} does not exist`);
  if (!statSync(path).isDirectory()) throw new Error(`${what} ${path} is not a directory`);
}

function isDirOrLinkToDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a broken link at class level is not a class
  }
}

function scanFolders(splitDir: string, bad?: BadFiles): { classes: string[]; records: ImageRecord[] } {
  const classes = readdirSync(splitDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() || (e.isSymbolicLink() && isDirOrLinkToDir(join(splitDir, e.name))))
    .map((e) => e.name)
    .sort(byCodePoint);
  if (classes.length === 0) throw new Error(`${splitDir}: no class folders found (expected <split>/<class>/<image>)`);
  const records: ImageRecord[] = [];
  classes.forEach((cls, label) => {
    const files = listFilesRecursive(join(splitDir, cls), bad).filter(isImageFile).sort(byCodePoint);
    if (files.length === 0) {
      // skipping keeps the class (its label id stays), as mmpretrain does with a warning
      const err = new Error(`class folder ${join(splitDir, cls)} has no images (extensions: ${IMAGE_EXTENSIONS.join(' ')})`);
      if (!bad) throw err;
      bad.handle(join(splitDir, cls), err);
    }
    for (const f of files) records.push({ file: join(splitDir, cls, f), label });
  });
  return { classes, records };
}

function parseAnnFile(annPath: string, splitDir: string): ImageRecord[] {
  if (!existsSync(annPath)) throw new Error(`annotation file ${annPath} does not exist`);
  const lines = readFileSync(annPath, 'utf8').split(/\r?\n/);
  const records: ImageRecord[] = [];
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const cut = line.lastIndexOf(' ');
    const path = cut > 0 ? line.slice(0, cut).trim() : '';
    const labelText = cut > 0 ? line.slice(cut + 1) : '';
    if (path === '' || !/^\d+$/.test(labelText)) {
      throw new Error(`${annPath}:${i + 1}: expected '<relative/path> <label>', got '${raw}'`);
    }
    records.push({ file: join(splitDir, path), label: Number(labelText) });
  });
  return records;
}

/**
 * Scan `<root>/<split>` (or read `annFile`, resolved against root when relative).
 * `classes` fixes the class names: with folders, their count must match; with an ann file, labels must be
 * below its length (default: '0'..'maxLabel'). `bad` (skipping) leaves out symlink loops and broken links and
 * keeps empty class folders; strict (or without it), they throw naming the path.
 */
export function scanImageFolder(root: string, split: string, opts: { annFile?: string; classes?: string[]; bad?: BadFiles } = {}): ImageFolderDataset {
  const absRoot = resolve(root);
  requireDir(absRoot, 'dataset root');
  const splitDir = join(absRoot, split);
  requireDir(splitDir, `split '${split}' directory`);

  if (opts.annFile) {
    const annPath = isAbsolute(opts.annFile) ? opts.annFile : join(absRoot, opts.annFile);
    const records = parseAnnFile(annPath, splitDir);
    if (records.length === 0) throw new Error(`annotation file ${annPath} lists no images`);
    const maxLabel = records.reduce((m, r) => Math.max(m, r.label), 0);
    const classes = opts.classes ?? Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
    if (maxLabel >= classes.length) {
      throw new Error(`annotation file ${annPath}: label ${maxLabel} is out of range for ${classes.length} classes`);
    }
    return { root: absRoot, split, classes: [...classes], records };
  }

  const { classes, records } = scanFolders(splitDir, opts.bad);
  if (records.length === 0) throw new Error(`${splitDir}: no images in any class folder`);
  if (opts.classes && opts.classes.length !== classes.length) {
    throw new Error(`${splitDir}: found ${classes.length} class folders but ${opts.classes.length} classes were given`);
  }
  return { root: absRoot, split, classes: opts.classes ? [...opts.classes] : classes, records };
}
