/** Pieces every exported OpenMMLab config shares: arch dims, per-GPU batch, epoch schedules, runtime keys. */
import { resolveArch, type ViTArch } from '../models/arch.js';
import { fl } from './py.js';

export interface ExportTarget {
  /** GPUs the OpenMMLab job runs on (torchrun --nproc_per_node × nodes): the per-GPU batch is the effective batch / gpus. */
  gpus: number;
  /** load_from: the converted weights of the checkpoint (.pth), or null. */
  loadFrom: string | null;
}

/** mmpretrain VisionTransformer accepts a dict arch with exactly these keys. */
export function archDict(arch: string | ViTArch): Record<string, number> {
  const a = resolveArch(arch);
  return { embed_dims: a.embedDims, num_layers: a.numLayers, num_heads: a.numHeads, feedforward_channels: a.feedforwardChannels };
}

/** Per-GPU batch so that gpus × batch = the run's effective batch; refuses what does not divide. */
export function perGpuBatch(effective: number, gpus: number, field: string): number {
  if (!Number.isInteger(gpus) || gpus < 1) throw new Error(`--gpus must be a positive integer, got ${gpus}`);
  if (effective % gpus !== 0) throw new Error(`${field} = ${effective} images per step is not divisible by --gpus ${gpus}; choose a GPU count that divides it`);
  return effective / gpus;
}

/** LinearLR warmup + CosineAnnealingLR over epochs, stepped per iteration (mmpretrain's convert_to_iter_based). */
export function epochCosine(s: { epochs: number; warmupEpochs: number; warmupStartFactor: number; etaMin: number }): unknown[] {
  const warm = s.warmupEpochs > 0
    ? [{ type: 'LinearLR', start_factor: fl(s.warmupStartFactor), by_epoch: true, begin: 0, end: s.warmupEpochs, convert_to_iter_based: true }]
    : [];
  return [
    ...warm,
    { type: 'CosineAnnealingLR', T_max: s.epochs - s.warmupEpochs, by_epoch: true, begin: s.warmupEpochs, end: s.epochs, eta_min: fl(s.etaMin), convert_to_iter_based: true },
  ];
}

export function envCfg(): Record<string, unknown> {
  return { cudnn_benchmark: false, mp_cfg: { mp_start_method: 'fork', opencv_num_threads: 0 }, dist_cfg: { backend: 'nccl' } };
}

export const rgb = (v: [number, number, number]) => [...v];
