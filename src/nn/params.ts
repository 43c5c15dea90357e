/**
 * Named parameters. Keys are the PyTorch state_dict names (mmpretrain/mmseg); values are tf.Variables in
 * tfjs-native layouts. The layout tag says how to convert at the checkpoint boundary:
 *   linear  torch [out, in]          <-> internal [in, out]
 *   conv    torch [out, in, kh, kw]  <-> internal [kh, kw, in, out]     (tf.conv2d filter)
 *   convT   torch [in, out, kh, kw]  <-> internal [kh, kw, out, in]     (tf.conv2dTranspose filter)
 *   plain   same shape both sides
 * Buffers (BN running stats, relative-position index, frozen sin-cos tables) are non-trainable entries.
 */
import * as tf from '@tensorflow/tfjs';
import type { StTensor } from '../io/safetensors.js';

export type Layout = 'plain' | 'linear' | 'conv' | 'convT';

export interface Entry {
  v: tf.Variable;
  layout: Layout;
  trainable: boolean;
  /** Integer buffers (num_batches_tracked, relative_position_index) are written as I64. */
  int?: boolean;
}

const TO_INTERNAL: Record<Layout, number[] | null> = {
  plain: null,
  linear: [1, 0],
  conv: [2, 3, 1, 0],
  convT: [2, 3, 1, 0],
};
const TO_TORCH: Record<Layout, number[] | null> = {
  plain: null,
  linear: [1, 0],
  conv: [3, 2, 0, 1],
  convT: [3, 2, 0, 1],
};

export function torchShape(internal: number[], layout: Layout): number[] {
  const perm = TO_TORCH[layout];
  return perm ? perm.map((i) => internal[i]) : internal.slice();
}

export interface LoadReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
}

export class ParamStore {
  readonly entries = new Map<string, Entry>();

  /** Register a parameter from a tensor already in the internal layout (takes ownership of `value`). */
  add(name: string, value: tf.Tensor, layout: Layout = 'plain', trainable = true, int = false): tf.Variable {
    if (this.entries.has(name)) throw new Error(`parameter '${name}' registered twice`);
    const v = tf.variable(value, trainable);
    value.dispose();
    this.entries.set(name, { v, layout, trainable, int });
    return v;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get(name: string): tf.Variable {
    const e = this.entries.get(name);
    if (!e) throw new Error(`parameter '${name}' does not exist in this model`);
    return e.v;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  trainableNames(): string[] {
    return [...this.entries].filter(([, e]) => e.trainable).map(([n]) => n);
  }

  trainableVars(): tf.Variable[] {
    return [...this.entries.values()].filter((e) => e.trainable).map((e) => e.v);
  }

  setTrainable(name: string, trainable: boolean): void {
    const e = this.entries.get(name);
    if (!e) throw new Error(`parameter '${name}' does not exist in this model`);
    e.trainable = trainable;
    e.v.trainable = trainable;
  }

  /** The tensor in PyTorch layout (caller disposes). */
  torchTensor(name: string): tf.Tensor {
    const e = this.entries.get(name)!;
    const perm = TO_TORCH[e.layout];
    return perm ? tf.transpose(e.v, perm) : e.v.clone();
  }

  /** Convert a PyTorch-layout array to this entry's internal layout (caller disposes). */
  fromTorch(name: string, shape: number[], data: Float32Array | Int32Array): tf.Tensor {
    const e = this.entries.get(name)!;
    const t = tf.tensor(data, shape, e.v.dtype);
    const perm = TO_INTERNAL[e.layout];
    if (!perm) return t;
    const r = tf.transpose(t, perm);
    t.dispose();
    return r;
  }

  /** The whole state dict in PyTorch layout, insertion order (= state_dict order). */
  toStateDict(): Map<string, StTensor> {
    const out = new Map<string, StTensor>();
    for (const [name, e] of this.entries) {
      const t = this.torchTensor(name);
      const data = t.dataSync();
      out.set(name, {
        dtype: e.int ? 'I64' : 'F32',
        shape: t.shape,
        data: e.int ? Int32Array.from(data) : Float32Array.from(data),
      });
      t.dispose();
    }
    return out;
  }

  /**
   * Assign values from a PyTorch-layout state dict. `map` renames source keys (return null to skip one).
   * Shape mismatches throw, naming the file and key. Returns which keys were loaded / missing / unexpected.
   */
  load(
    src: Map<string, StTensor>,
    opts: { file?: string; map?: (key: string) => string | null; strict?: boolean } = {},
  ): LoadReport {
    const file = opts.file ?? '<state dict>';
    const loaded: string[] = [];
    const unexpected: string[] = [];
    for (const [key, t] of src) {
      const name = opts.map ? opts.map(key) : key;
      if (name === null) continue;
      const e = this.entries.get(name);
      if (!e) {
        unexpected.push(key);
        continue;
      }
      const want = torchShape(e.v.shape, e.layout);
      const same = want.length === t.shape.length && want.every((d, i) => d === t.shape[i]);
      if (!same) {
        throw new Error(`${file}: '${key}' has shape [${t.shape}] but the model expects [${want}] for '${name}'`);
      }
      const value = this.fromTorch(name, t.shape, t.data);
      e.v.assign(e.v.dtype === value.dtype ? value : tf.cast(value, e.v.dtype));
      value.dispose();
      loaded.push(name);
    }
    const seen = new Set(loaded);
    const missing = this.names().filter((n) => !seen.has(n));
    if (opts.strict && (missing.length || unexpected.length)) {
      throw new Error(
        `${file}: state dict does not fit the model` +
          (missing.length ? `; missing: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}` : '') +
          (unexpected.length ? `; unexpected: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', ...' : ''}` : ''),
      );
    }
    return { loaded, missing, unexpected };
  }

  numParams(trainableOnly = false): number {
    let n = 0;
    for (const e of this.entries.values()) if (!trainableOnly || e.trainable) n += e.v.size;
    return n;
  }

  dispose(): void {
    for (const e of this.entries.values()) e.v.dispose();
    this.entries.clear();
  }
}
