/**
 * Backend selection. `auto`: tfjs-node-gpu when installed and it really uses a GPU, else tfjs-node, else wasm
 * with our CPU engine on top (src/backend/registry.ts), else the pure-JS cpu backend. The engine line is printed once,
 * first thing of every command: which engine runs and, on the slow path, why and the one command that fixes it.
 * tfjs is imported here only when a backend is initialised, so the CLI answers --help without loading it.
 */
import { createRequire } from 'node:module';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

let chosen: string | null = null;

const require = createRequire(import.meta.url);
const tfjs = () => import('@tensorflow/tfjs');

async function tryTensorflow(): Promise<string | null> {
  const tf = await tfjs();
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
  const tf = await tfjs();
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    const { registerFastKernels } = await import('./registry.js');
    const fast = registerFastKernels();
    if (await tf.setBackend('wasm')) return fast.native ? 'wasm+native-blas' : 'wasm';
  } catch {
    /* unavailable */
  }
  return null;
}

/**
 * The engine line: `[mff] engine: <label>`, and for the wasm engine without the native addon, that this is the
 * slow path, why (the addon's status) and the fix. Exported for tests.
 */
export function engineLine(label: string, nativeWhy = ''): string {
  if (label === 'wasm+native-blas') return `[mff] engine: ${label} (the CPU engine: wasm + OpenBLAS addon)`;
  if (label === 'wasm') {
    const fix = nativeWhy.includes('MFF_NATIVE=0') ? 'unset MFF_NATIVE' : 'npm run build:native (needs a C compiler and libopenblas-dev)';
    return `[mff] engine: wasm — SLOW PATH (~9× slower than with the native addon): ${nativeWhy || 'native addon not loaded'}; fix: ${fix}`;
  }
  if (label === 'cpu') return `[mff] engine: cpu (pure JS, the slowest path; for speed use --backend auto with the wasm engine)`;
  return `[mff] engine: ${label}`;
}

/** Select and initialise the backend. Idempotent; prints the engine line once unless quiet. */
export async function initBackend(
  name: BackendName = (process.env.MFF_BACKEND as BackendName) || 'auto',
  opts: { quiet?: boolean } = {},
): Promise<string> {
  if (chosen !== null) return chosen;
  if (!BACKENDS.includes(name)) throw new Error(`unknown backend '${name}' (expected one of ${BACKENDS.join(', ')})`);
  const tf = await tfjs();
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
  // Free saved tensors and gradients while the backward walks the tape (same numbers; src/backend/lean-backprop.ts).
  (await import('./lean-backprop.js')).installLeanBackprop();
  chosen = label;
  if (!opts.quiet) {
    const why = label === 'wasm' ? (await import('./native.js')).nativeStatus() : '';
    console.error(engineLine(label, why));
  }
  return label;
}
