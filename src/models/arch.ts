/** mmpretrain VisionTransformer.arch_zoo, plus custom dims. */
export interface ViTArch {
  embedDims: number;
  numLayers: number;
  numHeads: number;
  feedforwardChannels: number;
}

export const ARCH_ZOO: Record<string, ViTArch> = {
  'deit-tiny': { embedDims: 192, numLayers: 12, numHeads: 3, feedforwardChannels: 768 },
  'deit-small': { embedDims: 384, numLayers: 12, numHeads: 6, feedforwardChannels: 1536 },
  base: { embedDims: 768, numLayers: 12, numHeads: 12, feedforwardChannels: 3072 },
  large: { embedDims: 1024, numLayers: 24, numHeads: 16, feedforwardChannels: 4096 },
  // mmpretrain's legacy 'small' (timm vit_small): NOT the DeiT-S the MFF paper uses.
  small: { embedDims: 768, numLayers: 8, numHeads: 8, feedforwardChannels: 2304 },
};

const ALIASES: Record<string, string> = {
  t: 'deit-tiny', 'deit-t': 'deit-tiny', 's': 'small', 'deit-s': 'deit-small', b: 'base', l: 'large',
};

export function resolveArch(arch: string | ViTArch): ViTArch {
  if (typeof arch !== 'string') {
    const a = arch;
    for (const k of ['embedDims', 'numLayers', 'numHeads', 'feedforwardChannels'] as const) {
      if (!Number.isInteger(a[k]) || a[k] <= 0) throw new Error(`arch.${k} must be a positive integer, got ${String(a[k])}`);
    }
    if (a.embedDims % a.numHeads !== 0) throw new Error(`arch.embedDims ${a.embedDims} is not divisible by numHeads ${a.numHeads}`);
    return { ...a };
  }
  const key = ALIASES[arch] ?? arch;
  const a = ARCH_ZOO[key];
  if (!a) throw new Error(`unknown ViT arch '${arch}' (known: ${Object.keys(ARCH_ZOO).join(', ')}, or give {embedDims, numLayers, numHeads, feedforwardChannels})`);
  return { ...a };
}
