/**
 * The CPU engine: the one table of everything we register on the tfjs wasm backend, and its registration. Each row
 * names a tfjs kernel, its factory (src/backend/*.ts) and whether it needs the native addon (native/, see
 * native/README.md; MFF_NATIVE=0 disables it). Overrides keep the stock kernel's `setupFunc`, handle the cases they
 * know (float32 / 4-byte dtypes, the attrs tfjs passes) and call the stock kernel for anything else, so semantics
 * stay exactly tfjs's. Registered by src/backend/init.ts before `setBackend('wasm')`. What is registered:
 *
 * - fill (pure JS, only where the stock backend lacks the kernel; wasm-kernels.ts): Conv2DBackpropFilter,
 *   UnsortedSegmentSum.
 * - override, pure JS, the addon used when loaded: BatchMatMul (without the addon only a transposed 2-D product:
 *   explicit transpose, then the fast stock kernel), Transpose (strided cases), Concat (block copies in the wasm
 *   heap; all rows in one native call with the addon).
 * - override, pure JS: Identity, Cast (same dtype: share the buffer), Unpack (axis 0), GatherV2, SplitV, Slice.
 * - override, addon only: Softmax, Erf, Exp, Add, Sub, Multiply, RealDiv (broadcasting), Sum, Mean (one run of
 *   consecutive axes), Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter, FusedConv2D (bias + ReLU fused).
 * - own kernels, addon only (fused-kernels.ts; model code calls them through fused.ts): MffGelu, MffGeluGrad,
 *   MffLayerNorm, MffLayerNormGrad, MffAddLayerNorm, MffAddLayerNormGrad, MffAdamW, MffAttention, MffAttentionGrad,
 *   MffLinear, MffLinearGradX, MffLinearGradW, MffLinearNoBias, MffFfn, MffFfnGrad, MffBatchNormTrain,
 *   MffBatchNormTrainGrad, MffSegCe, MffSegCeGrad; with the gradients of MffGelu, MffLayerNorm, MffAddLayerNorm,
 *   MffLinear, MffLinearNoBias.
 * - gradient, pure JS: Tile (one reshape + sum instead of one Slice + Add per repetition).
 *
 * `registerFastKernels()` returns the registered names in table order ('*' = runs natively, 'grad:' = a gradient).
 */
import * as tf from '@tensorflow/tfjs';
import type { Gradient, Kernel } from './heap.js';
import { loadNative, type NativeAddon } from './native.js';
import { castKernel, concatKernel, gatherKernel, identityKernel, sliceKernel, splitVKernel, tileGradient, transposeKernel, unpackKernel } from './overrides-copy.js';
import { batchMatMulKernel, binaryKernel, softmaxKernel, sumKernel, unaryKernel } from './overrides-math.js';
import { convKernel, fusedConvKernel } from './overrides-conv.js';
import * as fused from './fused-kernels.js';
import { conv2dBackpropFilterKernel, unsortedSegmentSumKernel } from './wasm-kernels.js';

/**
 * One row: `name` is the tfjs kernel; `how` says what the factory `make` builds: `fill` a kernel the stock backend
 * lacks (registered only where it is missing), `override` a replacement of the stock kernel (`make` gets the stock
 * kernel), `own` a kernel of ours (with its gradient when it has one), `grad` only a gradient. `native`: 'needs' =
 * registered only with the addon; 'uses' = always registered, calls the addon when it is loaded; absent = pure JS.
 */
export type KernelRow =
  | { name: string; how: 'fill'; make: () => Kernel; native?: undefined }
  | { name: string; how: 'override'; make: (orig: Kernel) => Kernel; native?: 'uses' }
  | { name: string; how: 'override'; make: (orig: Kernel, nat: NativeAddon) => Kernel; native: 'needs' }
  | { name: string; how: 'own'; make: (nat: NativeAddon) => Kernel; native: 'needs'; grad?: Gradient }
  | { name: string; how: 'grad'; grad: Gradient; native?: undefined };

/** Everything the CPU engine registers on the wasm backend, in registration order (the header above lists it). */
export const KERNELS: readonly KernelRow[] = [
  { name: 'Conv2DBackpropFilter', how: 'fill', make: () => conv2dBackpropFilterKernel },
  { name: 'UnsortedSegmentSum', how: 'fill', make: () => unsortedSegmentSumKernel },
  { name: 'BatchMatMul', how: 'override', native: 'uses', make: batchMatMulKernel },
  { name: 'Transpose', how: 'override', native: 'uses', make: transposeKernel },
  { name: 'Identity', how: 'override', make: identityKernel },
  { name: 'Cast', how: 'override', make: castKernel },
  { name: 'Unpack', how: 'override', make: unpackKernel },
  { name: 'GatherV2', how: 'override', make: gatherKernel },
  { name: 'SplitV', how: 'override', make: splitVKernel },
  { name: 'Slice', how: 'override', make: sliceKernel },
  { name: 'Concat', how: 'override', native: 'uses', make: concatKernel },
  { name: 'Softmax', how: 'override', native: 'needs', make: softmaxKernel },
  { name: 'Erf', how: 'override', native: 'needs', make: (o, nat) => unaryKernel(o, nat, 0) },
  { name: 'Exp', how: 'override', native: 'needs', make: (o, nat) => unaryKernel(o, nat, 1) },
  { name: 'Add', how: 'override', native: 'needs', make: (o, nat) => binaryKernel(o, nat, 0) },
  { name: 'Sub', how: 'override', native: 'needs', make: (o, nat) => binaryKernel(o, nat, 1) },
  { name: 'Multiply', how: 'override', native: 'needs', make: (o, nat) => binaryKernel(o, nat, 2) },
  { name: 'RealDiv', how: 'override', native: 'needs', make: (o, nat) => binaryKernel(o, nat, 3) },
  { name: 'Sum', how: 'override', native: 'needs', make: (o, nat) => sumKernel(o, nat) },
  { name: 'Mean', how: 'override', native: 'needs', make: (o, nat) => sumKernel(o, nat, true) },
  { name: 'Conv2D', how: 'override', native: 'needs', make: (o, nat) => convKernel(o, nat, 0) },
  { name: 'Conv2DBackpropInput', how: 'override', native: 'needs', make: (o, nat) => convKernel(o, nat, 1) },
  { name: 'Conv2DBackpropFilter', how: 'override', native: 'needs', make: (o, nat) => convKernel(o, nat, 2) },
  { name: 'FusedConv2D', how: 'override', native: 'needs', make: fusedConvKernel },
  { name: 'MffGelu', how: 'own', native: 'needs', make: fused.geluKernel, grad: fused.geluGradient },
  { name: 'MffGeluGrad', how: 'own', native: 'needs', make: fused.geluGradKernel },
  { name: 'MffLayerNorm', how: 'own', native: 'needs', make: fused.layerNormKernel, grad: fused.layerNormGradient },
  { name: 'MffLayerNormGrad', how: 'own', native: 'needs', make: fused.layerNormGradKernel },
  { name: 'MffAddLayerNorm', how: 'own', native: 'needs', make: fused.addLayerNormKernel, grad: fused.addLayerNormGradient },
  { name: 'MffAddLayerNormGrad', how: 'own', native: 'needs', make: fused.addLayerNormGradKernel },
  { name: 'MffAdamW', how: 'own', native: 'needs', make: fused.adamwKernel },
  { name: 'MffAttention', how: 'own', native: 'needs', make: fused.attentionKernel },
  { name: 'MffAttentionGrad', how: 'own', native: 'needs', make: fused.attentionGradKernel },
  { name: 'MffLinear', how: 'own', native: 'needs', make: fused.linearKernel, grad: fused.linearGradient(true) },
  { name: 'MffLinearGradX', how: 'own', native: 'needs', make: fused.linearGradXKernel },
  { name: 'MffLinearGradW', how: 'own', native: 'needs', make: fused.linearGradWKernel },
  { name: 'MffLinearNoBias', how: 'own', native: 'needs', make: fused.linearNoBiasKernel, grad: fused.linearGradient(false) },
  { name: 'MffFfn', how: 'own', native: 'needs', make: fused.ffnKernel },
  { name: 'MffFfnGrad', how: 'own', native: 'needs', make: fused.ffnGradKernel },
  { name: 'MffBatchNormTrain', how: 'own', native: 'needs', make: fused.batchNormTrainKernel },
  { name: 'MffBatchNormTrainGrad', how: 'own', native: 'needs', make: fused.batchNormTrainGradKernel },
  { name: 'MffSegCe', how: 'own', native: 'needs', make: fused.segCeKernel },
  { name: 'MffSegCeGrad', how: 'own', native: 'needs', make: fused.segCeGradKernel },
  { name: 'Tile', how: 'grad', grad: tileGradient },
];

export interface Registered {
  /** the native addon is in use */
  native: boolean;
  /** registered names in table order, '*' = runs natively, 'grad:<kernel>' = a gradient only */
  kernels: string[];
}

let registered: Registered | null = null;

const addKernel = (kernelName: string, fn: Kernel) =>
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });

/** Register one row; false when it does not apply (no addon for a 'needs' row, a fill the backend has, no stock kernel to override). */
function registerRow(row: KernelRow, nat: NativeAddon | null): boolean {
  if (row.native === 'needs' && !nat) return false;
  switch (row.how) {
    case 'fill':
      if (tf.getKernel(row.name, 'wasm')) return false;
      addKernel(row.name, row.make());
      return true;
    case 'override': {
      const k = tf.getKernel(row.name, 'wasm');
      if (!k) return false;
      const orig = k.kernelFunc as unknown as Kernel;
      const fn = row.native === 'needs' ? row.make(orig, nat!) : row.make(orig);
      tf.unregisterKernel(row.name, 'wasm');
      tf.registerKernel({ ...k, kernelFunc: fn as unknown as tf.KernelFunc });
      return true;
    }
    case 'own':
      addKernel(row.name, row.make(nat!));
      if (row.grad) tf.registerGradient({ kernelName: row.name, ...row.grad });
      return true;
    case 'grad':
      tf.registerGradient({ kernelName: row.name, ...row.grad });
      return true;
  }
}

/**
 * Register the table (idempotent). Requires @tensorflow/tfjs-backend-wasm to be imported already. Returns whether
 * the native addon is used and what was registered (a name registered twice, a fill then its native override, is
 * listed once, at its last registration).
 */
export function registerFastKernels(): Registered {
  if (registered) return registered;
  const nat = loadNative();
  const labels = new Map<string, string>();
  for (const row of KERNELS) {
    if (!registerRow(row, nat)) continue;
    const key = row.how === 'grad' ? `grad:${row.name}` : row.name;
    labels.delete(key); // registered again (a fill, then its override): listed where it was last registered
    labels.set(key, nat && row.native ? `${key}*` : key);
  }
  registered = { native: nat !== null, kernels: [...labels.values()] };
  return registered;
}

/** The fused Mff* kernels are registered (the table was registered with the addon). */
export function fusedKernelsRegistered(): boolean {
  return registered?.native === true;
}
