/**
 * The bench's model-FLOP counts (tools/bench-flops.ts) against independent counts: tiny configs counted by hand,
 * term by term, and the bench configs against PyTorch's profiler (torch 1.13 `with_flops`, aten::conv2d + addmm + bmm)
 * on the real mmpretrain / mmseg models, computed once; the profiler skips aten::conv_transpose2d, so
 * Feature2Pyramid's transposed convs are counted by hand here. Also the order statistics of the bench lines.
 */
import { describe, expect, test } from 'vitest';
import { blockFlops, pretrainFlops, pretrainFlopsDims, segFlops, type SegFlopsDims } from '../../tools/bench-flops.js';
import { loadPretrainConfig } from '../../src/config/resolve.js';
import { loadSegConfig } from '../../src/config/seg.js';
import { median, quantile, spread } from '../../tools/bench-stats.js';

const configP = {
  imgSize: 32, patchSize: 4, inChannels: 3, embedDims: 192, numLayers: 12, feedforwardChannels: 768, maskRatio: 0.75,
  outIndices: [0, 2, 4, 6, 8, 11], decoder: { embedDims: 128, depth: 4, feedforwardChannels: 512 },
};

/** mmseg EncoderDecoder dims: MAE backbone, Feature2Pyramid [4, 2, 1, 0.5], UPerHead, FCN aux (3×3, one conv). */
function segDims(S: number, P: number, D: number, C: number, Caux: number, K: number): SegFlopsDims {
  return {
    backbone: { imgSize: S, patchSize: P, inChannels: 3, embedDims: D, numLayers: 12, mlpRatio: 4 },
    neck: { rescales: [4, 2, 1, 0.5] },
    decodeHead: { inChannels: [D, D, D, D], inIndex: [0, 1, 2, 3], channels: C, poolScales: [1, 2, 3, 6], numClasses: K },
    auxiliaryHead: { inChannels: D, inIndex: 2, channels: Caux, numConvs: 1, kernelSize: 3, concatInput: false, numClasses: K },
  };
}

/** Feature2Pyramid's ConvTranspose2d(D, D, 2, 2) FLOPs on a g × g token grid: ×4 is two (to 2g, then 4g), ×2 one. */
const deconv = (g: number, D: number) => 2 * (2 * g) ** 2 * D * D + 2 * (4 * g) ** 2 * D * D + 2 * (2 * g) ** 2 * D * D;

describe('bench FLOP counts', () => {
  test('a transformer block, by hand', () => {
    // T = 3 tokens, D = 4, F = 8: qkv 2·3·12·4, QKᵀ 2·3·3·4, AV 2·3·3·4, proj 2·3·4·4, fc1 2·3·8·4, fc2 2·3·4·8
    expect(blockFlops(3, 4, 8)).toBe(288 + 72 + 72 + 96 + 192 + 192);
  });

  test('tiny MFF pretraining, by hand', () => {
    // 8 px, patch 4, 1 channel: L = 4 patches of 16 values; mask 0.5 keeps 2 + cls = 3 encoder tokens; D 4 × 2 blocks
    // (F 8); taps [0, 1]: one D → D projection; decoder 2-d × 1 block (F 4) over L + 1 = 5 tokens.
    const f = pretrainFlops({
      imgSize: 8, patchSize: 4, inChannels: 1, embedDims: 4, numLayers: 2, feedforwardChannels: 8, maskRatio: 0.5,
      outIndices: [0, 1], decoder: { embedDims: 2, depth: 1, feedforwardChannels: 4 },
    });
    const patchEmbed = 2 * 4 * 4 * 16; // [4, 16] × [16, 4]
    const encoder = 2 * (288 + 72 + 72 + 96 + 192 + 192);
    const proj = 2 * 3 * 4 * 4;
    const decEmbed = 2 * 3 * 2 * 4;
    const decoder = 2 * 5 * 6 * 2 + 2 * 5 * 5 * 2 + 2 * 5 * 5 * 2 + 2 * 5 * 2 * 2 + 2 * 5 * 4 * 2 + 2 * 5 * 2 * 4;
    const pred = 2 * 5 * 16 * 2;
    expect(f.forward).toBe(patchEmbed + encoder + proj + decEmbed + decoder + pred);
    expect(f.forward).toBe(3320);
    expect(f.train).toBe(3 * 3320);
  });

  test('bench config P = the PyTorch profiler count of the real mmpretrain MFF (forward, per image)', () => {
    const f = pretrainFlops(configP);
    expect(f.forward).toBe(303_119_360); // conv2d 1 179 648 + addmm 290 623 488 + bmm 11 316 224
    expect(f.train / 1e9).toBeCloseTo(0.909, 3);
  });

  test('tiny UperNet, by hand', () => {
    // 8 px, patch 4, 1 channel: g = 2, 5 tokens, D 2 × 1 block (F 2); levels 8², 4², 2², 1² px; C 1, pool scale 1, 3 classes
    const m: SegFlopsDims = {
      backbone: { imgSize: 8, patchSize: 4, inChannels: 1, embedDims: 2, numLayers: 1, mlpRatio: 1 },
      neck: { rescales: [4, 2, 1, 0.5] },
      decodeHead: { inChannels: [2, 2, 2, 2], inIndex: [0, 1, 2, 3], channels: 1, poolScales: [1], numClasses: 3 },
      auxiliaryHead: { inChannels: 2, inIndex: 2, channels: 1, numConvs: 1, kernelSize: 3, concatInput: false, numClasses: 3 },
    };
    const f = segFlops(m);
    const patchEmbed = 2 * 4 * 2 * 16;
    const block = 2 * 5 * 6 * 2 + 2 * 5 * 5 * 2 * 2 + 2 * 5 * 2 * 2 * 3; // qkv, QKᵀ + AV, proj + fc1 + fc2
    const neck = 2 * 16 * 2 * 2 + 2 * 64 * 2 * 2 + 2 * 16 * 2 * 2; // ×4: 2→4→8 px, ×2: 2→4 px
    const psp = 2 * 1 * 1 * 2 + 2 * 1 * 1 * 9 * (2 + 1); // 1×1 D → C at 1², then 3×3 (D + C) → C at the 1² level
    const fpn = (64 + 16 + 4) * (2 * 1 * 2 + 2 * 1 * 9); // lateral 1×1 D → C, fpn 3×3 C → C on levels 0..2
    const bottleneck = 2 * 64 * 1 * 9 * 4;
    const cls = 2 * 64 * 3 * 1;
    const aux = 2 * 4 * 1 * 9 * 2 + 2 * 4 * 3 * 1; // 3×3 D → 1 and 1×1 → 3 at 2² px
    expect(f.forward).toBe(patchEmbed + block + neck + psp + fpn + bottleneck + cls);
    expect(f.forward).toBe(8362);
    expect(f.trainForward).toBe(8362 + aux);
    expect(f.train).toBe(3 * (8362 + aux));
  });

  test('bench config S and the ADE20K UperNets = the PyTorch profiler count of the real mmseg models (+ conv-transpose)', () => {
    const s = segFlops(segDims(64, 4, 192, 128, 64, 11));
    expect(s.parts.neck).toBe(deconv(16, 192));
    expect(s.forward).toBe(10_141_279_232 + deconv(16, 192)); // encode_decode
    expect(s.trainForward).toBe(10_198_262_784 + deconv(16, 192)); // loss(): with the FCN aux head
    const ades = segFlops(segDims(512, 16, 384, 512, 256, 150)); // ViT-S/16 UperNet (configs/upernet/upernet_mff-vit-s16_...)
    expect(ades.forward).toBe(490_934_126_592 + deconv(32, 384));
    expect(ades.trainForward).toBe(492_824_709_120 + deconv(32, 384));
    const adeb = segFlops(segDims(512, 16, 768, 768, 256, 150)); // ViT-B/16 UperNet (mmseg's mae-base_upernet config)
    expect(adeb.forward).toBe(1_180_933_853_184 + deconv(32, 768));
    expect(adeb.trainForward).toBe(1_184_636_375_040 + deconv(32, 768));
  });

  test('the bench reads the same dims from its config files', async () => {
    const p = await loadPretrainConfig('configs/mff/mff_vit-tiny-p4_1xb64-coslr-100e_fashion-mnist.ts');
    expect(pretrainFlopsDims(p.model)).toEqual(configP);
    const s = await loadSegConfig('configs/upernet/upernet_mff-vit-s16_8xb2-160k_ade20k-512x512.ts');
    expect(segFlops(s.model)).toEqual(segFlops(segDims(512, 16, 384, 512, 256, 150)));
    const b = await loadSegConfig('configs/_base/upernet_mae-vit-b16_8xb2-160k_ade20k-512x512.ts');
    expect(segFlops(b.model)).toEqual(segFlops(segDims(512, 16, 768, 768, 256, 150)));
  });

  test('a linear head is not counted', () => {
    const m = segDims(64, 4, 192, 128, 64, 11);
    expect(() => segFlops({ ...m, decodeHead: { ...m.decodeHead, type: 'linear' } })).toThrow(/linear/);
  });
});

describe('bench spread', () => {
  test('quantiles interpolate linearly (numpy default)', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([10, 20], 0.75)).toBe(17.5); // numpy.percentile([10, 20], 75)
    expect(Number.isNaN(median([]))).toBe(true);
  });

  test('range and IQR, scaled and rounded', () => {
    expect(spread([2200, 1000, 1800, 1400], 1000, 2)).toEqual({ range: [1, 2.2], iqr: [1.3, 1.9] });
  });
});
