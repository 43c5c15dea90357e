/**
 * Activation checkpointing (mmcv / torch.utils.checkpoint): `run(...inputs)` as one custom-gradient op whose tape
 * entry keeps only `inputs`; the backward recomputes `run` under its own tape and returns d/d(inputs) and d/d(vars),
 * where `vars` are the trainable variables `run` reads (they receive their gradients through this op). `run` must be
 * deterministic (draw any randomness before).
 */
import * as tf from '@tensorflow/tfjs';

export function checkpoint(run: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], vars: tf.Tensor[]): tf.Tensor {
  const n = inputs.length;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    save(xs);
    return {
      value: run(...xs),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // The recompute runs under its own tape while the outer backward is walking its tape. tfjs (4.22) gives a
        // nested gradients() at depth 0 a fresh `activeTape` and sets it to null when done, which would drop the
        // outer tape's saved tensors; keep the outer tape aside meanwhile. The nested tape's own saved tensors are
        // freed when it finishes, so only one recompute is alive at a time.
        const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
        const outer = state.activeTape;
        try {
          return tf.grads((...ys: tf.Tensor[]) => run(...ys.slice(0, n)))([...saved, ...vars], dy);
        } finally {
          state.activeTape = outer;
        }
      },
    };
  });
  return op(...inputs, ...vars);
}
