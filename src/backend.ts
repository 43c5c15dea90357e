/**
 * Backend selection. `auto`: tfjs-node-gpu when installed and it really uses a GPU, else tfjs-node, else wasm
 * (with the kernels it lacks registered from JS), else the pure-JS cpu backend. Printed once, at start.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { installLeanBackprop } from './nn/lean-backprop.js';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

let chosen: string | null = null;

const require = createRequire(import.meta.url);

async function tryTensorflow(): Promise<string | null> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(pkg);
    } catch {
      continue;
    }
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) {
        const gpu = Boolean((tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice);
        return `tensorflow (${pkg}${gpu ? ', GPU' : ', CPU'})`;
      }
    } catch {
      /* fall through to the next option */
    }
  }
  return null;
}

async function tryWasm(): Promise<string | null> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    const { registerWasmKernels } = await import('./nn/wasm-kernels.js');
    registerWasmKernels();
    const { registerFastKernels } = await import('./nn/fast-kernels.js');
    const fast = registerFastKernels();
    if (await tf.setBackend('wasm')) return fast.native ? 'wasm+native-blas' : 'wasm';
  } catch {
    /* unavailable */
  }
  return null;
}

/** Select and initialise the backend. Idempotent; logs the choice once unless quiet. */
export async function initBackend(
  name: BackendName = (process.env.MFF_BACKEND as BackendName) || 'auto',
  opts: { quiet?: boolean } = {},
): Promise<string> {
  if (chosen !== null) return chosen;
  if (!BACKENDS.includes(name)) throw new Error(`unknown backend '${name}' (expected one of ${BACKENDS.join(', ')})`);
  tf.enableProdMode();
  let label: string | null = null;
  if (name === 'auto') {
    label = (await tryTensorflow()) ?? (await tryWasm());
    if (label === null && (await tf.setBackend('cpu'))) label = 'cpu';
  } else if (name === 'tensorflow') {
    label = await tryTensorflow();
    if (label === null) throw new Error('backend tensorflow requested but @tensorflow/tfjs-node(-gpu) is not installed or failed to load');
  } else if (name === 'wasm') {
    label = await tryWasm();
    if (label === null) throw new Error('backend wasm requested but @tensorflow/tfjs-backend-wasm failed to initialise');
  } else {
    await tf.setBackend('cpu');
    label = 'cpu';
  }
  if (label === null) throw new Error('no tfjs backend could be initialised');
  await tf.ready();
  // Free saved tensors and gradients while the backward walks the tape (same numbers; src/nn/lean-backprop.ts).
  installLeanBackprop();
  chosen = label;
  if (!opts.quiet) console.error(`[mff] backend: ${label}`);
  return label;
}
