/**
 * safetensors read/write (https://github.com/huggingface/safetensors): 8-byte LE header length, JSON header
 * (padded with spaces to 8-byte alignment), raw little-endian data. Offsets are relative to the data start.
 */
import { readFileSync } from 'node:fs';

export type StDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'F64';

export interface StTensor {
  dtype: StDtype;
  shape: number[];
  /** F32/F16/BF16/F64 come back as Float32Array; I64/I32/U8 as Int32Array (I64 values must fit in int32). */
  data: Float32Array | Int32Array;
}

export interface StFile {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

function f16ToF32(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  let v: number;
  if (e === 0) v = f * 2 ** -24;
  else if (e === 31) v = f ? NaN : Infinity;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

export function parseSafetensors(buf: Uint8Array, file = '<buffer>'): StFile {
  if (buf.byteLength < 8) throw new Error(`${file}: not a safetensors file (only ${buf.byteLength} bytes)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.byteLength) throw new Error(`${file}: not a safetensors file (header length ${n} out of range)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(buf.subarray(8, 8 + n)).toString('utf8'));
  } catch (e) {
    throw new Error(`${file}: safetensors header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors = new Map<string, StTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const info = raw as { dtype: StDtype; shape: number[]; data_offsets: [number, number] };
    const [b, e] = info.data_offsets;
    if (base + e > buf.byteLength || b > e) throw new Error(`${file}: tensor '${name}' data_offsets [${b}, ${e}] out of range`);
    const count = info.shape.reduce((a, c) => a * c, 1);
    // Copy the slice into a fresh, aligned ArrayBuffer before viewing it.
    const bytes = new Uint8Array(e - b);
    bytes.set(buf.subarray(base + b, base + e));
    const ab = bytes.buffer;
    let data: Float32Array | Int32Array;
    switch (info.dtype) {
      case 'F32':
        data = new Float32Array(ab);
        break;
      case 'F64':
        data = Float32Array.from(new Float64Array(ab));
        break;
      case 'F16': {
        const u = new Uint16Array(ab);
        data = new Float32Array(count);
        for (let i = 0; i < count; i++) data[i] = f16ToF32(u[i]);
        break;
      }
      case 'BF16': {
        const u = new Uint16Array(ab);
        const u32 = new Uint32Array(count);
        for (let i = 0; i < count; i++) u32[i] = u[i] << 16;
        data = new Float32Array(u32.buffer);
        break;
      }
      case 'I64': {
        const big = new BigInt64Array(ab);
        data = new Int32Array(count);
        for (let i = 0; i < count; i++) data[i] = Number(big[i]);
        break;
      }
      case 'I32':
        data = new Int32Array(ab);
        break;
      case 'U8':
        data = Int32Array.from(new Uint8Array(ab));
        break;
      default:
        throw new Error(`${file}: tensor '${name}' has unsupported dtype ${String(info.dtype)}`);
    }
    if (data.length !== count) throw new Error(`${file}: tensor '${name}' has ${data.length} values, shape [${info.shape}] needs ${count}`);
    tensors.set(name, { dtype: info.dtype, shape: info.shape, data });
  }
  return { tensors, metadata };
}

export function readSafetensors(file: string): StFile {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read checkpoint (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSafetensors(buf, file);
}

/** Serialise tensors (in insertion order) and string metadata. F32 for floats, I64 for Int32Array data. */
export function serializeSafetensors(tensors: Map<string, StTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  const parts: Buffer[] = [];
  for (const [name, t] of tensors) {
    let bytes: Buffer;
    if (t.dtype === 'I64') {
      const big = new BigInt64Array(t.data.length);
      for (let i = 0; i < t.data.length; i++) big[i] = BigInt(Math.round(t.data[i]));
      bytes = Buffer.from(big.buffer);
    } else if (t.dtype === 'F32') {
      const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
      bytes = Buffer.from(f.buffer, f.byteOffset, f.byteLength);
    } else {
      throw new Error(`serializeSafetensors: '${name}' dtype ${t.dtype} not writable (use F32 or I64)`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes.length] };
    off += bytes.length;
    parts.push(bytes);
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += ' '.repeat(pad);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  return Buffer.concat([head, Buffer.from(json, 'utf8'), ...parts]);
}
