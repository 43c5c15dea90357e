/** Pieces every training loop shares: gradient accumulation, the SIGINT stop request, the NaN guard. */
import * as tf from '@tensorflow/tfjs';

/**
 * Σ grads / steps over `steps` micro-batches (mmengine scales the loss by 1/accumulative_counts), keyed by
 * parameter name. `add` takes ownership of the gradients; `take` hands the sum over and resets.
 */
export class GradAccumulator {
  private sum: Map<string, tf.Tensor> | null = null;
  private lossSum = 0;
  private count = 0;

  constructor(
    readonly steps: number,
    /** tf.Variable name -> parameter name (the keys of tf.variableGrads' result). */
    private readonly varToName: Map<string, string>,
  ) {
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`accumSteps must be a positive integer, got ${steps}`);
  }

  add(grads: tf.NamedTensorMap, loss: number): void {
    for (const [vn, g] of Object.entries(grads)) {
      const name = this.varToName.get(vn);
      if (name === undefined) throw new Error(`gradient for an unknown variable '${vn}'`);
      const scaled = this.steps === 1 ? g : tf.tidy(() => tf.div(g, this.steps));
      if (scaled !== g) g.dispose();
      this.sum ??= new Map();
      const prev = this.sum.get(name);
      if (prev) {
        this.sum.set(name, tf.add(prev, scaled));
        tf.dispose([prev, scaled]);
      } else this.sum.set(name, scaled);
    }
    this.lossSum += loss / this.steps;
    this.count++;
  }

  /** True once `steps` micro-batches were added. */
  get full(): boolean {
    return this.count >= this.steps;
  }

  /** The accumulated gradients (caller disposes) and the mean loss; resets. */
  take(): { grads: Map<string, tf.Tensor>; loss: number } {
    const out = { grads: this.sum ?? new Map<string, tf.Tensor>(), loss: this.lossSum };
    this.sum = null;
    this.lossSum = 0;
    this.count = 0;
    return out;
  }

  dispose(): void {
    if (this.sum) tf.dispose([...this.sum.values()]);
    this.sum = null;
    this.count = 0;
    this.lossSum = 0;
  }
}

/** Ctrl-C once: finish the step, save, exit 130; twice: abort now. */
export class StopSignal {
  requested = false;
  private readonly handler = () => {
    if (this.requested) process.exit(130);
    this.requested = true;
    this.log('\n[mff] SIGINT: finishing this step, saving the resume state, then exiting (Ctrl-C again to abort)');
  };

  constructor(private readonly log: (msg: string) => void) {
    process.on('SIGINT', this.handler);
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
  }
}

/** The NaN guard: a non-finite loss stops the run, naming where, without touching the last good state. */
export function checkLoss(loss: number, where: { iteration: number; epoch: number; batch: number; file?: string; workDir: string }): void {
  if (Number.isFinite(loss)) return;
  throw new Error(
    `loss became ${loss} at iteration ${where.iteration} (epoch ${where.epoch}, batch ${where.batch}` +
      `${where.file ? `, first file ${where.file}` : ''}); stopping without overwriting the last good state in ${where.workDir}: ` +
      'lower the lr or check the data',
  );
}
