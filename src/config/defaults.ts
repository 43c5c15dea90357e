/**
 * The configs each command uses without --config (small CPU jobs on the bundled data). Plain constants with no
 * imports, so the command line can show them in --help without loading anything else.
 */

/** `npx mff pretrain` with no arguments: a small MFF ViT on the bundled Fashion-MNIST subset, minutes on 2 cores. */
export const DEFAULT_PRETRAIN_CONFIG = 'configs/mff/mff_vit-mini-p4_1xb64-coslr-20e_fashion-mnist.ts';

/** The config `mff cls-train --mode <mode>` uses when no --config is given. */
export const DEFAULT_CLS_CONFIGS: Record<'finetune' | 'linear', string> = {
  finetune: 'configs/mff/benchmarks/vit-mini-p4_1xb64-coslr-30e_fashion-mnist.ts',
  linear: 'configs/mff/benchmarks/vit-mini-p4_1xb64-linear-coslr-30e_fashion-mnist.ts',
};

/** `npx mff seg-train` with no --config: UperNet on the bundled scenes. */
export const DEFAULT_SEG_CONFIG = 'configs/upernet/upernet_mff-vit-mini-p4_1xb8-300i_scenes-mini-32x32.ts';
