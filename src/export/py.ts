/**
 * A writer of OpenMMLab-style Python config files: module-level assignments of dict(...) / [...] / (...) literals.
 * JS objects become `dict(key=value)`, arrays lists, `tuple(...)` Python tuples, `fl(x)` Python floats (1 → 1.0), `raw(code)` verbatim code,
 * null `None`, booleans `True`/`False`. Floats keep JS's shortest round-trip form, which Python parses to the same double.
 */

export class PyTuple {
  constructor(readonly items: unknown[]) {}
}

export class PyRaw {
  constructor(readonly code: string) {}
}

/** A Python float: integral values print as `1.0` (OpenMMLab asserts isinstance(x, float) for e.g. Mixup alpha, flip prob). */
export class PyFloat {
  constructor(readonly value: number) {}
}

export const tuple = (...items: unknown[]): PyTuple => new PyTuple(items);
export const fl = (value: number): PyFloat => new PyFloat(value);
export const raw = (code: string): PyRaw => new PyRaw(code);

const PY_KEYWORDS = new Set(['False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue', 'def', 'del', 'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield']);
const isIdentifier = (k: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !PY_KEYWORDS.has(k);

function pyString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

function pyNumber(x: number): string {
  if (Number.isNaN(x)) return "float('nan')";
  if (!Number.isFinite(x)) return x > 0 ? "float('inf')" : "-float('inf')";
  return String(x);
}

/** One Python expression; containers break over lines (4-space indents) when the one-line form exceeds `width`. */
export function pyValue(v: unknown, indent = 0, width = 100): string {
  const flat = pyFlat(v);
  if (flat.length + indent <= width) return flat;
  const pad = ' '.repeat(indent + 4);
  const end = ' '.repeat(indent);
  if (v instanceof PyTuple || Array.isArray(v)) {
    const items = v instanceof PyTuple ? v.items : v;
    const [open, close] = v instanceof PyTuple ? ['(', ')'] : ['[', ']'];
    return `${open}\n${items.map((x) => `${pad}${pyValue(x, indent + 4, width)},`).join('\n')}\n${end}${close}`;
  }
  if (v && typeof v === 'object' && !(v instanceof PyRaw) && !(v instanceof PyFloat)) {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    if (entries.every(([k]) => isIdentifier(k))) {
      return `dict(\n${entries.map(([k, x]) => `${pad}${k}=${pyValue(x, indent + 4, width)},`).join('\n')}\n${end})`;
    }
    return `{\n${entries.map(([k, x]) => `${pad}${pyString(k)}: ${pyValue(x, indent + 4, width)},`).join('\n')}\n${end}}`;
  }
  return flat;
}

function pyFlat(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v instanceof PyRaw) return v.code;
  if (v instanceof PyFloat) return Number.isInteger(v.value) ? `${v.value}.0` : pyNumber(v.value);
  if (v instanceof PyTuple) return v.items.length === 1 ? `(${pyFlat(v.items[0])},)` : `(${v.items.map(pyFlat).join(', ')})`;
  if (Array.isArray(v)) return `[${v.map(pyFlat).join(', ')}]`;
  switch (typeof v) {
    case 'boolean':
      return v ? 'True' : 'False';
    case 'number':
      return pyNumber(v);
    case 'string':
      return pyString(v);
    case 'object': {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
      if (entries.every(([k]) => isIdentifier(k))) return `dict(${entries.map(([k, x]) => `${k}=${pyFlat(x)}`).join(', ')})`;
      return `{${entries.map(([k, x]) => `${pyString(k)}: ${pyFlat(x)}`).join(', ')}}`;
    }
    default:
      throw new Error(`pyValue: cannot write a ${typeof v} as Python`);
  }
}

/** A config module: a header comment, then `name = value` per entry (blank line between). */
export function pyModule(header: string[], assignments: [string, unknown][]): string {
  const head = header.map((l) => (l ? `# ${l}` : '#')).join('\n');
  return `${head}\n\n${assignments.map(([k, v]) => `${k} = ${pyValue(v, 0)}`).join('\n')}\n`;
}
