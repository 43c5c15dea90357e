/**
 * Checkpoints are safetensors files holding the model state dict under the exact mmpretrain/mmseg key names in
 * PyTorch layouts, plus `__metadata__.mff` = JSON {task, config, iteration, epoch, metrics, ...}, so a checkpoint
 * needs no extra flags to load. Writes are atomic: temp file in the same directory, fsync, rename.
 */
import { writeFileAtomic } from './atomic.js';
import { readSafetensors, serializeSafetensors, type StTensor } from './safetensors.js';

export { writeFileAtomic };

export const FORMAT_VERSION = 1;

export interface CheckpointMeta {
  format_version: number;
  task: 'pretrain' | 'cls' | 'seg' | string;
  /** The resolved config the model was built from. */
  config?: unknown;
  iteration?: number;
  epoch?: number;
  metrics?: Record<string, number | number[]>;
  [k: string]: unknown;
}

export interface Checkpoint {
  file: string;
  tensors: Map<string, StTensor>;
  /** null for a bare state dict (e.g. converted from an mmpretrain .pth). */
  meta: CheckpointMeta | null;
}

export function saveCheckpoint(file: string, tensors: Map<string, StTensor>, meta: CheckpointMeta): void {
  const buf = serializeSafetensors(tensors, { format: 'pt', mff: JSON.stringify(meta) });
  writeFileAtomic(file, buf);
}

export function loadCheckpoint(file: string): Checkpoint {
  const { tensors, metadata } = readSafetensors(file);
  let meta: CheckpointMeta | null = null;
  if (metadata.mff) {
    try {
      meta = JSON.parse(metadata.mff) as CheckpointMeta;
    } catch (e) {
      throw new Error(`${file}: __metadata__.mff is not valid JSON (${(e as Error).message})`);
    }
  }
  return { file, tensors, meta };
}

/** Keep only keys under `prefix` and strip it (returns a new map). */
export function selectPrefix(tensors: Map<string, StTensor>, prefix: string): Map<string, StTensor> {
  const out = new Map<string, StTensor>();
  for (const [k, v] of tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}
