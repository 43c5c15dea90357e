/**
 * Loading typed TS configs, `--cfg-options a.b=value` overrides (unknown keys and type changes rejected, as
 * nanoGPT's configurator), validation against a schema, and writing the resolved config.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export async function importConfig<T>(file: string): Promise<T> {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new Error(`${file}: config file not found`);
  let mod: { default?: T };
  try {
    mod = (await import(pathToFileURL(abs).href)) as { default?: T };
  } catch (e) {
    throw new Error(`${file}: cannot load config (${(e as Error).message})`);
  }
  if (mod.default === undefined) throw new Error(`${file}: config module has no default export`);
  return structuredClone(mod.default);
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function kind(v: unknown): string {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
}

/** Apply `a.b.c=value` overrides in place. The path must exist (or be a declared optional key) and keep its type. */
export function applyOverrides(cfg: Record<string, unknown>, overrides: string[], optionalKeys: Record<string, string> = {}): void {
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new Error(`--cfg-options: '${o}' is not of the form key.path=value`);
    const path = o.slice(0, eq);
    const value = parseValue(o.slice(eq + 1));
    const keys = path.split('.');
    let node: Record<string, unknown> = cfg;
    for (let i = 0; i < keys.length - 1; i++) {
      const next = node[keys[i]];
      if (next === undefined) throw new Error(unknownKey(path, keys.slice(0, i + 1), node, optionalKeys));
      if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        throw new Error(`--cfg-options: unknown config key '${path}' ('${keys.slice(0, i + 1).join('.')}' is not a section)`);
      }
      node = next as Record<string, unknown>;
    }
    const last = keys[keys.length - 1];
    if (!(last in node)) {
      const want = optionalKeys[path];
      if (!want) throw new Error(unknownKey(path, keys, node, optionalKeys));
      if (kind(value) !== want) throw new Error(`--cfg-options: '${path}' must be a ${want}, got ${kind(value)} (${o.slice(eq + 1)})`);
      node[last] = value;
      continue;
    }
    const before = node[last];
    const bk = kind(before);
    const vk = kind(value);
    // a string-or-object field (e.g. model.arch) may switch between the two
    const flexible = path === 'model.arch' && (vk === 'string' || vk === 'object');
    if (bk !== vk && !flexible) {
      throw new Error(`--cfg-options: '${path}' is a ${bk} in the config, got ${vk} (${o.slice(eq + 1)})`);
    }
    node[last] = value;
  }
}

/** Levenshtein distance (for "did you mean"). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** "unknown config key 'a.b' (did you mean 'a.c'?; keys of a: ...)" — the keys of the section the path stops in. */
function unknownKey(path: string, keys: string[], section: Record<string, unknown>, optionalKeys: Record<string, string>): string {
  const parent = keys.slice(0, -1).join('.');
  const name = keys[keys.length - 1];
  const optional = Object.keys(optionalKeys).filter((k) => k.startsWith(parent ? `${parent}.` : '') && !k.slice(parent ? parent.length + 1 : 0).includes('.'));
  const known = [...new Set([...Object.keys(section), ...optional.map((k) => k.split('.').pop()!)])];
  const best = known.map((k) => ({ k, d: editDistance(name, k) })).sort((x, y) => x.d - y.d)[0];
  const hint = best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? ` did you mean '${parent ? `${parent}.` : ''}${best.k}'?` : '';
  return `--cfg-options: unknown config key '${path}'.${hint} Keys of ${parent ? `'${parent}'` : 'the config'}: ${known.join(', ')}`;
}

// ---------------------------------------------------------------- schema validation

/** 'number' | 'integer' | 'string' | 'boolean' | 'any' | string[] (enum) | nested schema | ['array', elem] */
export type Schema = string | string[] | { [k: string]: Schema } | { $array: string; $len?: number } | { $optional: Schema } | { $union: string; variants: Record<string, Record<string, Schema>> };

function fail(file: string, path: string, msg: string): never {
  throw new Error(`${file}: ${path}: ${msg}`);
}

export function validate(value: unknown, schema: Schema, file: string, path = 'config'): void {
  if (typeof schema === 'string') {
    switch (schema) {
      case 'any':
        return;
      case 'number':
        if (typeof value !== 'number' || !Number.isFinite(value)) fail(file, path, `expected a number, got ${JSON.stringify(value)}`);
        return;
      case 'integer':
        if (!Number.isInteger(value)) fail(file, path, `expected an integer, got ${JSON.stringify(value)}`);
        return;
      case 'string':
        if (typeof value !== 'string') fail(file, path, `expected a string, got ${JSON.stringify(value)}`);
        return;
      case 'boolean':
        if (typeof value !== 'boolean') fail(file, path, `expected true/false, got ${JSON.stringify(value)}`);
        return;
      default:
        throw new Error(`bad schema type ${schema}`);
    }
  }
  if (Array.isArray(schema)) {
    if (!schema.includes(value as string)) fail(file, path, `expected one of ${schema.map((s) => `'${s}'`).join(', ')}, got ${JSON.stringify(value)}`);
    return;
  }
  if ('$optional' in schema) {
    if (value !== undefined) validate(value, (schema as { $optional: Schema }).$optional, file, path);
    return;
  }
  if ('$array' in schema) {
    const s = schema as { $array: string; $len?: number };
    if (!Array.isArray(value)) fail(file, path, `expected an array, got ${JSON.stringify(value)}`);
    if (s.$len !== undefined && value.length !== s.$len) fail(file, path, `expected ${s.$len} values, got ${value.length}`);
    value.forEach((v, i) => validate(v, s.$array, file, `${path}[${i}]`));
    return;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(file, path, `expected an object, got ${JSON.stringify(value)}`);
  const obj = value as Record<string, unknown>;
  let fields = schema as Record<string, Schema>;
  if ('$union' in schema) {
    const u = schema as { $union: string; variants: Record<string, Record<string, Schema>> };
    const tag = obj[u.$union];
    const v = u.variants[tag as string];
    if (!v) fail(file, `${path}.${u.$union}`, `expected one of ${Object.keys(u.variants).map((s) => `'${s}'`).join(', ')}, got ${JSON.stringify(tag)}`);
    fields = { [u.$union]: 'string', ...v };
  }
  for (const k of Object.keys(obj)) if (!(k in fields)) fail(file, `${path}.${k}`, `unknown config key (known: ${Object.keys(fields).join(', ')})`);
  for (const [k, s] of Object.entries(fields)) {
    if (!(k in obj) && !(typeof s === 'object' && !Array.isArray(s) && '$optional' in s)) fail(file, `${path}.${k}`, 'missing');
    validate(obj[k], s, file, `${path}.${k}`);
  }
}
