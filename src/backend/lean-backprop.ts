/**
 * A memory-lean backward pass for tfjs's gradient tape (tfjs-core 4.22 `Engine.gradients` + `backpropagateGradients`).
 *
 * tfjs keeps every tensor a tape node saved for its gradient, and every intermediate gradient it computed, until the
 * whole backward pass ends: at its peak a training step holds all saved activations plus one gradient per
 * intermediate activation. Here, walking the tape backward, once a node's gradient function has run
 *   - its saved tensors are disposed (no other node reads them: each node saves its own clones), and
 *   - the gradients of its outputs are disposed (every consumer of an output comes later on the tape, so its gradient
 *     is complete and used up) unless the same tensor object is still the gradient of another tensor (gradient
 *     functions may return dy itself) or is a returned gradient,
 * so the backward holds the saved tensors of the nodes not yet walked plus the gradients on the frontier.
 * Same nodes, same order, same gradient functions and the same accumulation as tfjs: the numbers are bitwise the same.
 * Only at gradient depth 0 (not while a higher-order gradient is recorded); otherwise the stock path runs.
 * Saved tensors are cloned without a kernel dispatch (leanSave below).
 * installLeanBackprop() replaces `gradients` and `saveTensorsForBackwardMode` on the engine instance (idempotent);
 * uninstallLeanBackprop() restores both.
 */
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  id: number;
  kernelName: string;
  outputs: tf.Tensor[];
  inputs: Record<string, tf.Tensor>;
  gradient?: (dys: tf.Tensor[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  gradients: Gradients;
  saveTensorsForBackwardMode: SaveTensors;
  backend: { incRef(dataId: tf.DataId): void };
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  keep<T extends tf.Tensor>(t: T): T;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T>(name: string | (() => T), f?: () => T): T;
}

type Gradients = (f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean) => { value: tf.Tensor; grads: tf.Tensor[] };

type SaveTensors = (tensors: tf.Tensor[]) => tf.Tensor[];

let stock: Gradients | null = null;
let stockSave: SaveTensors | null = null;

/**
 * tfjs's saveTensorsForBackwardMode keeps a clone of each tensor a kernel saves for its gradient, made by `clone`: an
 * Identity kernel run through the engine plus a tape node of its own (≈ 370 per pretraining step, each a full kernel
 * dispatch). Under a single tape (gradient depth 1: the forward of a depth-0 tf.grads, whose backward runs after the
 * tape has ended) the clone's tape node is never walked (nothing on the tape consumes a saved tensor),
 * so the same clone is made directly: a new tensor on the same data, its reference counted by the backend as the
 * Identity kernel does. The saved tensors, their disposal and every number are unchanged.
 */
function leanSave(this: EngineInternals, tensors: tf.Tensor[]): tf.Tensor[] {
  // depth 1 = the forward of a depth-0 tf.grads (one tape); nested tapes may differentiate through the clones
  if (this.state.gradientDepth !== 1) return stockSave!.call(this, tensors);
  return tensors.map((t) => {
    if (t.dtype === 'string') return stockSave!.call(this, [t])[0]; // strings are copied, not shared
    this.backend.incRef(t.dataId);
    return this.keep(this.makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }));
  });
}

/** tfjs's getFilteredNodesXToY (tape.ts): the nodes on a path from xs to y, inputs pruned to those reached from xs. */
function filterTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name].id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const name in node.inputs) toY.add(node.inputs[name].id);
      nodesToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name].id)) inputs[name] = node.inputs[name];
    out.push({ ...node, inputs, outputs: node.outputs });
  }
  return out;
}

/** backpropagateGradients with early disposal (see the file comment). `keepIds`: tensors whose gradients are returned. */
function backprop(grads: Map<number, tf.Tensor>, tape: TapeNode[], keepIds: Set<number>, owned: Set<tf.Tensor>): void {
  // how many map entries hold each gradient tensor object
  const refs = new Map<tf.Tensor, number>();
  const hold = (t: tf.Tensor) => refs.set(t, (refs.get(t) ?? 0) + 1);
  const release = (t: tf.Tensor) => {
    const n = (refs.get(t) ?? 0) - 1;
    if (n > 0) refs.set(t, n);
    else {
      refs.delete(t);
      if (!owned.has(t)) t.dispose();
    }
  };
  for (const t of grads.values()) hold(t);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGradients = node.gradient(dys as tf.Tensor[]);
    for (const name in node.inputs) {
      if (!(name in inputGradients)) {
        throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`);
      }
      const dx = tf.tidy(() => inputGradients[name]());
      if (dx.dtype !== 'float32') {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
      }
      const x = node.inputs[name];
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
      }
      const cur = grads.get(x.id);
      if (cur == null) {
        grads.set(x.id, dx);
        hold(dx);
      } else {
        const sum = tf.add(cur, dx);
        grads.set(x.id, sum);
        hold(sum);
        release(cur);
        // dx was not stored: dispose it unless it is (the same object as) a stored gradient
        if (!refs.has(dx) && !owned.has(dx)) dx.dispose();
      }
    }
    // this node is done: its saved tensors and its outputs' gradients are not read again
    if (node.saved) for (const t of node.saved) t.dispose();
    for (const o of node.outputs) {
      if (keepIds.has(o.id)) continue;
      const g = grads.get(o.id);
      if (g == null) continue;
      grads.delete(o.id);
      release(g);
    }
  }
}

function leanGradients(this: EngineInternals, f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients = false): { value: tf.Tensor; grads: tf.Tensor[] } {
  if (this.state.gradientDepth !== 0) return stock!.call(this, f, xs, dy, allowNoGradients);
  tf.util.assert(xs.length > 0, () => 'gradients() received an empty list of xs.');
  if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  const y = this.scopedRun(() => this.startTape(), () => this.endTape(), () => this.tidy('forward', f));
  tf.util.assert(y instanceof tf.Tensor, () => 'The result y returned by f() must be a tensor.');
  const fullTape = this.state.activeTape!;
  const tape = filterTape(fullTape, xs, y);
  if (!allowNoGradients && tape.length === 0 && xs.length > 0) {
    throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
  }
  return this.tidy('backward', () => {
    const grads = new Map<number, tf.Tensor>();
    const seed = dy == null ? tf.ones(y.shape) : dy;
    grads.set(y.id, seed);
    const keepIds = new Set(xs.map((x) => x.id));
    backprop(grads, tape, keepIds, new Set(dy == null ? [] : [dy]));
    const out = xs.map((x) => grads.get(x.id)) as tf.Tensor[];
    // the depth-0 cleanup of tfjs: every node's saved tensors (nodes off the x -> y path still hold theirs)
    for (const node of fullTape) if (node.saved) for (const t of node.saved) t.dispose();
    this.state.activeTape = null;
    return { value: y, grads: out };
  });
}

/** Use the lean backward for every tf.grads / tf.variableGrads / tf.valueAndGrads from now on (idempotent). */
export function installLeanBackprop(): void {
  const eng = tf.engine() as unknown as EngineInternals;
  if (stock) return;
  stock = eng.gradients;
  eng.gradients = leanGradients as unknown as Gradients;
  stockSave = eng.saveTensorsForBackwardMode;
  eng.saveTensorsForBackwardMode = leanSave as unknown as SaveTensors;
}

/** Restore tfjs's own backward (tests). */
export function uninstallLeanBackprop(): void {
  const eng = tf.engine() as unknown as EngineInternals;
  if (!stock) return;
  eng.gradients = stock;
  stock = null;
  eng.saveTensorsForBackwardMode = stockSave!;
  stockSave = null;
}

export function leanBackpropInstalled(): boolean {
  return stock !== null;
}
