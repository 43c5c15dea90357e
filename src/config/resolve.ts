/** Resolve a config file + CLI flags into a validated config. */
import { existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyOverrides, importConfig } from './load.js';
import { PRETRAIN_OPTIONAL_KEYS, validatePretrainConfig, type PretrainConfig } from './pretrain.js';

/** The package root (configs/ and datasets/ are found relative to it when a relative path does not exist). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** `npx mff pretrain` with no arguments: a small MFF ViT on the bundled Fashion-MNIST subset, minutes on 2 cores. */
export const DEFAULT_PRETRAIN_CONFIG = 'configs/mff/mff_vit-mini-p4_1xb64-coslr-20e_fashion-mnist.ts';

export function packagePath(rel: string): string {
  return resolve(PACKAGE_ROOT, rel);
}

export async function loadPretrainConfig(
  file: string,
  flags: { data?: string; workDir?: string; cfgOptions?: string[] } = {},
): Promise<PretrainConfig> {
  let path = resolve(file);
  if (!existsSync(path) && existsSync(packagePath(file))) path = packagePath(file);
  const raw = await importConfig<Record<string, unknown>>(path);
  applyOverrides(raw, flags.cfgOptions ?? [], PRETRAIN_OPTIONAL_KEYS);
  const cfg = validatePretrainConfig(raw, file);
  if (flags.data) cfg.data.root = flags.data;
  if (flags.workDir) cfg.workDir = flags.workDir;
  // the bundled dataset is addressed relative to the package, wherever the command runs from
  if (!existsSync(resolve(cfg.data.root)) && cfg.data.root.startsWith('datasets/') && existsSync(packagePath(cfg.data.root))) {
    cfg.data.root = packagePath(cfg.data.root);
  }
  return cfg;
}
