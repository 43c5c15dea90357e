/**
 * Drop-path schedules as the references compute them (issue 9: one schedule per reference, exact): mmpretrain's
 * VisionTransformer uses np.linspace (float64), mmseg's MAE/BEiT backbones [x.item() for x in torch.linspace(...)]
 * (float32, counted from both ends). Expected values printed by numpy / PyTorch 1.13 on this machine. Only n ≤ 16:
 * for longer schedules PyTorch's vectorised kernel fills whole SIMD vectors from one end (the vector width depends on
 * the CPU), which moves some values by an ulp; this scalar formula is then within 1 ulp (float32) of it.
 */
import { expect, test } from 'vitest';
import { linspaceNp, linspaceTorchF32 } from '../../src/nn/layers.js';

const TORCH: Array<[number, number, number[]]> = [
  [0.1, 12, [0.0, 0.00909090880304575, 0.0181818176060915, 0.027272727340459824, 0.036363635212183, 0.045454543083906174, 0.054545458406209946, 0.06363636255264282, 0.0727272778749466, 0.08181818574666977, 0.09090909361839294, 0.10000000149011612]],
  [0.3, 7, [0.0, 0.05000000074505806, 0.10000000149011612, 0.15000000596046448, 0.20000001788139343, 0.25, 0.30000001192092896]],
  [0.15, 13, [0.0, 0.012500000186264515, 0.02500000037252903, 0.03750000149011612, 0.05000000074505806, 0.0625, 0.07500000298023224, 0.08750000596046448, 0.10000000894069672, 0.11250000447034836, 0.125, 0.13750000298023224, 0.15000000596046448]],
];
const NP: Array<[number, number, number[]]> = [
  [0.1, 12, [0.0, 0.009090909090909092, 0.018181818181818184, 0.027272727272727275, 0.03636363636363637, 0.04545454545454546, 0.05454545454545455, 0.06363636363636364, 0.07272727272727274, 0.08181818181818183, 0.09090909090909093, 0.1]],
  [0.3, 7, [0.0, 0.049999999999999996, 0.09999999999999999, 0.15, 0.19999999999999998, 0.24999999999999997, 0.3]],
  [0.15, 13, [0.0, 0.012499999999999999, 0.024999999999999998, 0.0375, 0.049999999999999996, 0.06249999999999999, 0.075, 0.0875, 0.09999999999999999, 0.11249999999999999, 0.12499999999999999, 0.13749999999999998, 0.15]],
];

test('linspaceTorchF32 = [x.item() for x in torch.linspace(0, r, n)]', () => {
  for (const [r, n, want] of TORCH) expect(linspaceTorchF32(r, n), `${r} ${n}`).toEqual(want);
  expect(linspaceTorchF32(0.1, 1)).toEqual([0]);
});

test('linspaceNp = np.linspace(0, r, n)', () => {
  for (const [r, n, want] of NP) expect(linspaceNp(r, n), `${r} ${n}`).toEqual(want);
  expect(linspaceNp(0.1, 1)).toEqual([0]);
});
