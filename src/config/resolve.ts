/** Resolve a config file + CLI flags into a validated config. */
import { existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyOverrides, importConfig } from './load.js';
import { PRETRAIN_OPTIONAL_KEYS, validatePretrainConfig, type PretrainConfig } from './pretrain.js';

/** The package root (configs/ and datasets/ are found relative to it when a relative path does not exist). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export { DEFAULT_PRETRAIN_CONFIG } from './defaults.js';

export function packagePath(rel: string): string {
  return resolve(PACKAGE_ROOT, rel);
}

/** A config path relative to the current directory, else to the package (so `configs/...` works from anywhere). */
export function findConfigFile(file: string): string {
  const path = resolve(file);
  return !existsSync(path) && existsSync(packagePath(file)) ? packagePath(file) : path;
}

/** The bundled datasets are addressed relative to the package, wherever the command runs from. */
export function resolveDataRoot(root: string): string {
  if (!existsSync(resolve(root)) && root.startsWith('datasets/') && existsSync(packagePath(root))) return packagePath(root);
  return root;
}

export async function loadPretrainConfig(
  file: string,
  flags: { data?: string; workDir?: string; cfgOptions?: string[] } = {},
): Promise<PretrainConfig> {
  const raw = await importConfig<Record<string, unknown>>(findConfigFile(file));
  applyOverrides(raw, flags.cfgOptions ?? [], PRETRAIN_OPTIONAL_KEYS);
  const cfg = validatePretrainConfig(raw, file);
  if (flags.data) cfg.data.root = flags.data;
  if (flags.workDir) cfg.workDir = flags.workDir;
  cfg.data.root = resolveDataRoot(cfg.data.root);
  return cfg;
}
