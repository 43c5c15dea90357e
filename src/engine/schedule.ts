/**
 * Learning-rate schedules: mmengine param schedulers (LinearLR, CosineAnnealingLR, PolyLR), iteration-based, as
 * pure closed-form functions of the 0-based iteration. Based on mmengine/optim/scheduler/param_scheduler.py.
 *
 * mmengine semantics (ParamSchedulerHook steps every scheduler after each train iteration, and each scheduler
 * steps once at construction): the lr used by iteration `g` is the value after `g + 1` scheduler steps. A
 * scheduler is active for begin <= g < end with local step k = g - begin; its chainable update reduces to
 *   LinearLR           lr = L0 · (s + (e − s) · k / (end − begin − 1))           (factor s at k=0, e at the last step)
 *   CosineAnnealingLR  lr = ηmin + (L0 − ηmin) · (1 + cos(π k / Tmax)) / 2          (Tmax defaults to end − begin)
 *   PolyLR             lr = ηmin + (L0 − ηmin) · (1 − k / (end − begin − 1))^power
 * where L0 is the group lr when the phase starts (base lr for the first phase, otherwise what the previous
 * phase left). Outside its range a scheduler leaves the lr unchanged. Phases must not overlap.
 */

export type LrPhase =
  | { type: 'LinearLR'; begin: number; end: number; startFactor: number; endFactor?: number }
  | { type: 'CosineAnnealingLR'; begin: number; end: number; tMax?: number; etaMin?: number }
  | { type: 'PolyLR'; begin: number; end: number; power?: number; etaMin?: number };

/** Phases in iterations (after `fromEpochs` if the config is epoch-based), in order. */
export type ScheduleSpec = readonly LrPhase[];

/** The lr of the whole phase at local step k, starting from l0. */
function phaseValue(p: LrPhase, l0: number, k: number): number {
  switch (p.type) {
    case 'LinearLR': {
      const { startFactor: s, endFactor: e = 1 } = p;
      const total = p.end - p.begin - 1;
      // total = 0 (a one-iteration phase) only ever sees k = 0
      return l0 * (k === 0 ? s : s + ((e - s) * k) / total);
    }
    case 'CosineAnnealingLR': {
      const { etaMin = 0 } = p;
      const tMax = p.tMax ?? p.end - p.begin;
      return etaMin + ((l0 - etaMin) * (1 + Math.cos((Math.PI * k) / tMax))) / 2;
    }
    case 'PolyLR': {
      const { etaMin = 0, power = 1 } = p;
      const total = p.end - p.begin - 1;
      return etaMin + (l0 - etaMin) * (k === 0 ? 1 : (1 - k / total) ** power);
    }
    default: {
      const never: never = p;
      throw new Error(`unknown lr scheduler ${JSON.stringify(never)}`);
    }
  }
}

/** Throws on an invalid schedule (overlapping or empty phases, bad factors), naming the phase. */
export function checkSchedule(spec: ScheduleSpec): void {
  let prevEnd = -Infinity;
  spec.forEach((p, i) => {
    const where = `schedule phase ${i} (${p.type} begin=${p.begin} end=${p.end})`;
    if (!(p.end > p.begin)) throw new Error(`${where}: end must be larger than begin`);
    if (p.begin < prevEnd) throw new Error(`${where}: overlaps the previous phase (ends at ${prevEnd})`);
    if (p.type === 'LinearLR' && !(p.startFactor >= 0 && p.startFactor <= 1)) throw new Error(`${where}: startFactor must be in [0, 1]`);
    if (p.type === 'CosineAnnealingLR' && !Number.isFinite(p.tMax ?? p.end - p.begin)) throw new Error(`${where}: needs a finite tMax or end`);
    if (p.type === 'PolyLR' && !Number.isFinite(p.end)) throw new Error(`${where}: needs a finite end`);
    prevEnd = p.end;
  });
}

/** The lr of a param group whose initial lr is `baseLr`, used by 0-based iteration `iter`. */
export function lrAt(iter: number, spec: ScheduleSpec, baseLr: number): number {
  if (!Number.isInteger(iter) || iter < 0) throw new Error(`lrAt: iteration must be a non-negative integer, got ${iter}`);
  checkSchedule(spec);
  let lr = baseLr;
  for (const p of spec) {
    if (iter < p.begin) break;
    lr = phaseValue(p, lr, Math.min(iter, p.end - 1) - p.begin);
  }
  return lr;
}

/**
 * Per-group lr function for `Optimizer.step`: group lr = lrAt(iter, spec, baseLr · lrScale). Needed whenever a
 * phase has etaMin ≠ 0 (mmengine applies the absolute etaMin to every group, e.g. the fine-tune cosine).
 */
export function groupLr(iter: number, spec: ScheduleSpec, baseLr: number): (lrScale: number) => number {
  return (lrScale) => lrAt(iter, spec, baseLr * lrScale);
}

/** An epoch-based phase (mmengine `by_epoch=True, convert_to_iter_based=True`); tMax is in epochs too. */
export type EpochLrPhase = LrPhase;

/** mmengine `build_iter_from_epoch`: begin/end → int(x · epochLength), tMax → tMax · epochLength. */
export function fromEpochs(phases: readonly EpochLrPhase[], epochLength: number): LrPhase[] {
  if (!(Number.isInteger(epochLength) && epochLength > 0)) throw new Error(`fromEpochs: epochLength must be a positive integer, got ${epochLength}`);
  return phases.map((p) => {
    const q = { ...p, begin: Math.trunc(p.begin * epochLength), end: p.end === Infinity ? Infinity : Math.trunc(p.end * epochLength) };
    if (q.type === 'CosineAnnealingLR' && q.tMax !== undefined) q.tMax = q.tMax * epochLength;
    return q;
  });
}

/**
 * mmpretrain recipe: LinearLR warmup from startFactor over warmupIters, then cosine to etaMin until totalIters
 * (T_max = totalIters − warmupIters).
 */
export function warmupCosine(o: { warmupIters: number; totalIters: number; startFactor?: number; etaMin?: number }): LrPhase[] {
  const { warmupIters, totalIters, startFactor = 1e-4, etaMin = 0 } = o;
  const cos: LrPhase = { type: 'CosineAnnealingLR', begin: warmupIters, end: totalIters, tMax: totalIters - warmupIters, etaMin };
  return warmupIters > 0 ? [{ type: 'LinearLR', begin: 0, end: warmupIters, startFactor }, cos] : [cos];
}

/** mmseg schedule_160k: LinearLR warmup (start 1e-6) over warmupIters, then PolyLR(power, etaMin) to totalIters. */
export function warmupPoly(o: { warmupIters: number; totalIters: number; startFactor?: number; power?: number; etaMin?: number }): LrPhase[] {
  const { warmupIters, totalIters, startFactor = 1e-6, power = 1, etaMin = 0 } = o;
  const poly: LrPhase = { type: 'PolyLR', begin: warmupIters, end: totalIters, power, etaMin };
  return warmupIters > 0 ? [{ type: 'LinearLR', begin: 0, end: warmupIters, startFactor }, poly] : [poly];
}

/**
 * The epoch-based mmpretrain recipe in optimizer steps (convert_to_iter_based): LinearLR from warmupStartFactor over
 * warmupEpochs (rounded to whole steps), then cosine to etaMin at epochs × itersPerEpoch.
 */
export function epochWarmupCosine(
  o: { epochs: number; warmupEpochs: number; warmupStartFactor: number; etaMin: number },
  itersPerEpoch: number,
): LrPhase[] {
  const totalIters = o.epochs * itersPerEpoch;
  const warmupIters = Math.min(Math.round(o.warmupEpochs * itersPerEpoch), totalIters);
  if (warmupIters === totalIters) return warmupIters > 0 ? [{ type: 'LinearLR', begin: 0, end: warmupIters, startFactor: o.warmupStartFactor }] : [];
  return warmupCosine({ warmupIters, totalIters, startFactor: o.warmupStartFactor, etaMin: o.etaMin });
}

/** Linear scaling rule: lr = baseLr · batch / base (MAE `blr · eff_batch_size / 256`). */
export function scaledLr(baseLr: number, batch: number, base = 256): number {
  if (!(batch > 0 && base > 0)) throw new Error(`scaledLr: batch (${batch}) and base (${base}) must be positive`);
  return (baseLr * batch) / base;
}
