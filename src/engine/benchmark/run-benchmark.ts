/**
 * `mff benchmark`: the whole claim in one command. Prepares the data (Fashion-MNIST from Debian's package, the
 * bundled shape scenes, the unlabeled shape-scene pool), pretrains MFF and MAE with identical budgets, then runs every
 * downstream task of the suite for each backbone (MFF, MAE, random init) and seed through the commands' own run*
 * functions, and writes summary.json / summary.md / plots (report.ts).
 *
 * Every run has its own folder `<out>/runs/<task>/<backbone>-s<seed>-<key>`; key = sha256 of the resolved config
 * (cfg-options and flags applied, the work dir left out, paths under the output folder or the package made relative,
 * the backbone checkpoint replaced by its sha256) + seed. A run
 * is finished when its result.json exists: it is then reused, never re-run or overwritten. An interrupted run resumes
 * from its resume state (or restarts, when it had none), so re-running the command resumes the suite.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../../io/checkpoint.js';
import { liveLockHolder } from '../../io/work-dir.js';
import { initBackend, type BackendName } from '../../backend/init.js';
import { loadPretrainConfig, packagePath } from '../../config/resolve.js';
import { loadClsConfig } from '../../config/cls.js';
import { loadSegConfig } from '../../config/seg.js';
import { runPretrain } from '../run-pretrain.js';
import { runClsTrain } from '../run-cls.js';
import { runSegTrain } from '../run-seg.js';
import { formatDuration } from '../progress.js';
import { prepareFashionMnist } from '../../../datasets/fashion-mnist/prepare.js';
import { generateUnlabeledShapeScenes, prepareShapeScenes } from '../../../datasets/scenes/shape.js';
import { BACKBONES, SUITES, withBudget, type Backbone, type BenchTask, type Suite } from './suites.js';
import { writeBenchmarkReport } from './report.js';

export interface BenchmarkOptions {
  suite?: string;
  /** Downstream seeds 0..seeds-1 (default: the suite's). */
  seeds?: number;
  out?: string;
  /** Fashion-MNIST IDX folder (Debian dataset-fashion-mnist). */
  fashionSrc?: string;
  backend?: BackendName;
  /** Only these task ids (default: all of the suite). */
  tasks?: string[];
  /** Only these backbones (default: mff, mae, random). */
  backbones?: Backbone[];
  /** Budget overrides of the suite (engine/benchmark/suites.ts withBudget). */
  segIters?: number;
  probeIters?: number;
  clsEpochs?: number;
  pretrainEpochs?: number;
  /** Runs at a time, each in its own process with its share of the cores; 1 = in this process. Default: 2 on the CPU
   * engine with >= 2 cores, else 1. */
  jobs?: number;
  /** Progress lines (stderr). */
  log?: (line: string) => void;
}

export interface PretrainResult {
  algorithm: 'mff' | 'mae';
  checkpoint: string;
  sha256: string;
  run_dir: string;
  iterations: number;
  final_loss: number;
  wall_s: number;
  img_per_s: number;
  fusion_weights: { block: number; weight: number }[] | null;
  cached?: boolean;
}

export interface RunResult {
  task: string;
  backbone: Backbone;
  seed: number;
  key: string;
  run_dir: string;
  /** top-1 (cls) or mIoU (seg), percent. */
  value: number;
  metrics: Record<string, number>;
  per_class: { class: string; IoU: number; Acc: number }[] | null;
  wall_s: number;
  img_per_s: number;
  final_loss: number;
  cached?: boolean;
}

export interface BenchmarkData {
  fashion: string;
  pool: string;
  seg: string;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A run stopped by SIGINT: its folder keeps the resume state, no result.json is written, the suite stops. */
export class BenchmarkInterrupted extends Error {
  constructor(readonly dir: string) {
    super(`interrupted in ${dir}; run the same command again to resume`);
  }
}

function finished<T extends { interrupted: boolean }>(s: T, dir: string): T {
  if (s.interrupted) throw new BenchmarkInterrupted(dir);
  return s;
}

/**
 * Resolved config as a cache key: work dir dropped, paths under `out` and then under the package (its bundled
 * datasets) made relative, the checkpoint by content — so a suite folder keeps its finished runs when the checkout
 * or the folder moves. `legacy`: the key of earlier versions (package paths absolute), for runDir's migration.
 */
export function configKey(cfg: Record<string, unknown>, out: string, extra: Record<string, unknown>, legacy = false): string {
  const c = structuredClone(cfg) as Record<string, unknown>;
  delete c.workDir;
  if (typeof c.pretrained === 'string' && c.pretrained) c.pretrained = sha256(readFileSync(c.pretrained));
  const text = JSON.stringify({ ...c, ...extra }).split(out).join('<out>');
  return sha256(legacy ? text : text.split(packagePath('')).join('<pkg>')).slice(0, 12);
}

/**
 * The folder `<out>/runs/<group>/<prefix>-<key>` of a run; a finished run that earlier versions filed under the
 * legacy key (configKey) is moved there first, so upgrading does not re-run a finished suite.
 */
export function runDir(out: string, group: string, prefix: string, cfg: Record<string, unknown>, extra: Record<string, unknown>): { key: string; dir: string } {
  const key = configKey(cfg, out, extra);
  const dir = join(out, 'runs', group, `${prefix}-${key}`);
  const old = join(out, 'runs', group, `${prefix}-${configKey(cfg, out, extra, true)}`);
  if (old !== dir && !existsSync(dir) && existsSync(join(old, 'result.json'))) {
    renameSync(old, dir);
    const r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as Record<string, unknown>;
    if ('key' in r) writeFileAtomic(join(dir, 'result.json'), JSON.stringify({ ...r, key, run_dir: relative(out, dir) }, null, 2) + '\n');
  }
  return { key, dir };
}

/**
 * Finished runs are read back; an unfinished folder resumes (resume state) or restarts. The run* functions' work-dir
 * rules (io/work-dir.ts) agree: a resumed folder holds an interrupted run (resume: true), a restarted one is deleted
 * first (and `force` is passed anyway, as the restart is deliberate). A folder another live run holds (mff.lock) is
 * neither deleted nor entered.
 */
async function cachedRun<T extends { cached?: boolean }>(dir: string, run: (o: { resume: boolean; force: boolean }) => Promise<T>): Promise<T> {
  const done = join(dir, 'result.json');
  if (existsSync(done)) return { ...(JSON.parse(readFileSync(done, 'utf8')) as T), cached: true };
  const holder = existsSync(dir) ? liveLockHolder(dir) : null;
  if (holder) throw new Error(`${dir} is in use by another run (${holder}): is another mff benchmark running on the same --out?`);
  const resume = existsSync(join(dir, 'resume.safetensors'));
  if (!resume && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const r: T = await run({ resume, force: !resume });
  writeFileAtomic(done, JSON.stringify(r, null, 2) + '\n');
  return r;
}

/** ADE-layout subset of `src` (copies; the scanners list regular files): the first `train` / `val` (sorted) scenes of each split (0 = all). */
function segSubset(src: string, dst: string, train: number, val: number): string {
  if (existsSync(join(dst, 'meta.json'))) return dst;
  rmSync(dst, { recursive: true, force: true });
  // meta.json is written last: it marks a complete subset
  for (const [split, n] of [['training', train], ['validation', val]] as const) {
    const imgs = readdirSync(join(src, 'images', split)).sort();
    const take = n > 0 ? imgs.slice(0, n) : imgs;
    for (const kind of ['images', 'annotations']) mkdirSync(join(dst, kind, split), { recursive: true });
    for (const f of take) {
      const stem = f.replace(/\.[^.]+$/, '');
      cpSync(join(src, 'images', split, f), join(dst, 'images', split, f));
      cpSync(join(src, 'annotations', split, `${stem}.png`), join(dst, 'annotations', split, `${stem}.png`));
    }
  }
  cpSync(join(src, 'meta.json'), join(dst, 'meta.json'));
  return dst;
}

/** The suite's data under <out>/data: Fashion-MNIST export, unlabeled pool, the shape scenes (bundled, else generated). */
export async function prepareBenchmarkData(suite: Suite, out: string, fashionSrc: string, log: (l: string) => void): Promise<BenchmarkData> {
  for (const f of ['train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz']) {
    if (!existsSync(join(fashionSrc, f))) {
      throw new Error(`${join(fashionSrc, f)}: Fashion-MNIST not found (install it: sudo apt-get install -y dataset-fashion-mnist, or pass --fashion-mnist DIR)`);
    }
  }
  const { trainPerClass: tp, valPerClass: vp } = suite.fashion;
  const fashion = join(out, 'data', `fashion-mnist-${tp}x${vp}`);
  if (!existsSync(join(fashion, '.complete'))) {
    log(`[bench] exporting Fashion-MNIST (${tp}/${vp} per class) to ${fashion}`);
    await prepareFashionMnist(fashionSrc, fashion, tp, vp);
    writeFileAtomic(join(fashion, '.complete'), '');
  }
  const pool = join(out, 'data', `shape-pool-${suite.poolImages}`);
  if (!existsSync(join(pool, '.complete'))) {
    log(`[bench] generating ${suite.poolImages} unlabeled shape scenes in ${pool}`);
    await generateUnlabeledShapeScenes(fashionSrc, join(pool, 'train', 'pool'), suite.poolImages);
    writeFileAtomic(join(pool, '.complete'), '');
  }
  let shapes = packagePath('datasets/scenes-shape');
  if (!existsSync(join(shapes, 'meta.json'))) {
    shapes = join(out, 'data', 'scenes-shape');
    if (!existsSync(join(shapes, 'meta.json'))) await prepareShapeScenes(fashionSrc, shapes, log);
  }
  return { fashion, pool, seg: shapes };
}

function segRoot(data: BenchmarkData, out: string, suite: Suite, task: BenchTask): string {
  const frac = task.trainFraction ?? 1;
  if (frac === 1 && suite.segValImages === 0) return data.seg;
  const nTrain = readdirSync(join(data.seg, 'images', 'training')).length;
  const train = frac === 1 ? 0 : Math.max(1, Math.round(frac * nTrain));
  return segSubset(data.seg, join(out, 'data', `scenes-shape-train${train || 'all'}-val${suite.segValImages || 'all'}`), train, suite.segValImages);
}

export interface BenchmarkResult {
  out: string;
  suite: Suite;
  seeds: number;
  pretrain: Record<'mff' | 'mae', PretrainResult | null>;
  runs: RunResult[];
  wall_s: number;
  summaryJson: string;
  summaryMd: string;
}

export async function runBenchmark(o: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const named = SUITES[o.suite ?? 'default'];
  if (!named) throw new Error(`--suite: unknown suite '${o.suite}' (known: ${Object.keys(SUITES).join(', ')})`);
  const suite = withBudget(named, { segIters: o.segIters, probeIters: o.probeIters, clsEpochs: o.clsEpochs, pretrainEpochs: o.pretrainEpochs });
  const seeds = o.seeds ?? suite.seeds;
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds must be a positive integer, got ${seeds}`);
  const out = resolve(o.out ?? `work_dirs/benchmark-${suite.name}`);
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const backend = await initBackend(o.backend, { quiet: true });
  const jobs = o.jobs ?? defaultJobs(backend);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a positive integer, got ${jobs}`);
  const t0 = performance.now();
  log(`[bench] suite '${suite.name}': ${suite.description}; seeds ${seeds}; engine ${backend}${jobs > 1 ? `; ${jobs} jobs at a time (${workerThreads(jobs)} BLAS thread(s) each)` : ''}; out ${out}`);
  const tasks = suite.tasks.filter((t) => !o.tasks || o.tasks.includes(t.id));
  if (o.tasks) for (const id of o.tasks) if (!suite.tasks.some((t) => t.id === id)) throw new Error(`--tasks: unknown task '${id}' (suite ${suite.name}: ${suite.tasks.map((t) => t.id).join(', ')})`);
  const backbones = o.backbones ?? BACKBONES;

  const data = await prepareBenchmarkData(suite, out, o.fashionSrc ?? '/usr/share/datasets/fashion-mnist', log);
  const ctx: JobContext = { suite, out, data, backend: o.backend };
  const pool = jobs > 1 ? new WorkerPool(jobs) : null;
  const exec = <T>(job: BenchJob): Promise<T> => (pool ? pool.run<T>(ctx, job) : (runJob(ctx, job) as Promise<T>));
  try {
    // ---- pretraining (MFF and MAE: identical data, schedule and seed), then downstream seed-major, so that an
    // interrupted suite has balanced partial results; one queue: a job starts when a worker is free and its
    // backbone's pretraining has finished (random-init jobs need none), the earliest such job first
    const pretrain: Record<'mff' | 'mae', PretrainResult | null> = { mff: null, mae: null };
    const algos = (['mff', 'mae'] as const).filter((a) => backbones.includes(a));
    for (const a of algos) log(`[bench] pretrain ${a.toUpperCase()} (${await pretrainDir(ctx, a)})`);
    const pretrained: Partial<Record<'mff' | 'mae', Deferred>> = {};
    const queue: QueueItem[] = algos.map((algo) => {
      const d = (pretrained[algo] = deferred());
      return {
        after: Promise.resolve(),
        go: async () => {
          try {
            const p = (pretrain[algo] = await exec<PretrainResult>({ kind: 'pretrain', algo }));
            log(`[bench] pretrain ${algo.toUpperCase()}: ${p.iterations} steps, final loss ${p.final_loss.toFixed(4)}, ${formatDuration(p.wall_s)}${p.cached ? ' (cached)' : ''}`);
            d.resolve();
          } catch (e) {
            d.reject(e);
            throw e;
          }
        },
      };
    });
    for (const t of tasks) if (t.kind === 'seg') segRoot(data, out, suite, t); // the label subsets, before workers read them
    const list: { taskId: string; backbone: Backbone; seed: number }[] = [];
    for (let seed = 0; seed < seeds; seed++) for (const task of tasks) for (const backbone of backbones) list.push({ taskId: task.id, backbone, seed });
    const runs: RunResult[] = new Array(list.length);
    let done = 0;
    let fresh = 0;
    const t1 = performance.now();
    list.forEach((j, k) => queue.push({
      after: j.backbone === 'random' ? Promise.resolve() : pretrained[j.backbone]!.promise,
      go: async () => {
        const ckpt = j.backbone === 'random' ? '' : pretrain[j.backbone]!.checkpoint;
        const r = (runs[k] = await exec<RunResult>({ kind: 'run', ...j, ckpt }));
        done++;
        if (!r.cached) fresh++;
        // fresh runs finished per wall second so far (all jobs together) -> the rest
        const eta = fresh > 0 ? ` ETA ${formatDuration(((performance.now() - t1) / 1000 / fresh) * (list.length - done))}` : '';
        log(`[bench] ${done}/${list.length} ${j.taskId} ${j.backbone} seed ${j.seed}: ${r.value.toFixed(2)} (${formatDuration(r.wall_s)}${r.cached ? ', cached' : ''})${eta}`);
      },
    }));
    await runQueue(queue, jobs);

    const wall = (performance.now() - t0) / 1000;
    const files = await writeBenchmarkReport({ out, suite, seeds, tasks, backbones, pretrain, runs, backend, wallSeconds: wall, jobs, argv: process.argv.slice(2).filter((a, i) => !(i === 0 && a === 'benchmark')) });
    log(`[bench] done in ${formatDuration(wall)}: ${files.md}`);
    return { out, suite, seeds, pretrain, runs, wall_s: wall, summaryJson: files.json, summaryMd: files.md };
  } finally {
    pool?.close();
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}
function deferred(): Deferred {
  const d = {} as Deferred;
  d.promise = new Promise<void>((res, rej) => Object.assign(d, { resolve: res, reject: rej }));
  d.promise.catch(() => {}); // a failed pretraining is reported by its own job
  return d;
}

/** A job of runQueue: `go` may start once `after` has resolved. */
export interface QueueItem {
  after: Promise<unknown>;
  go: () => Promise<unknown>;
}

/**
 * Run the items with at most `n` at a time; a free slot takes the earliest item whose `after` has resolved. After a
 * failure (or an interrupt) nothing new starts and the running items are awaited (they save their resume state);
 * then the first error is thrown (a BenchmarkInterrupted before any other).
 */
export async function runQueue(items: QueueItem[], n: number): Promise<void> {
  const ready = items.map(() => false);
  const blocked = items.map(() => false); // its `after` rejected: it never starts
  items.forEach((it, i) => it.after.then(() => (ready[i] = true), () => (blocked[i] = true)));
  const started = items.map(() => false);
  const errors: unknown[] = [];
  const slot = async () => {
    for (;;) {
      if (errors.length) return;
      await Promise.resolve(); // let resolved `after`s mark their items ready
      const i = items.findIndex((_, k) => !started[k] && ready[k]);
      if (i < 0) {
        const waiting = items.filter((_, k) => !started[k] && !blocked[k]);
        if (!waiting.length) return;
        await Promise.race(waiting.map((it) => it.after)).catch(() => {});
        continue;
      }
      started[i] = true;
      try {
        await items[i].go();
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, n) }, slot));
  if (errors.length) throw errors.find((e) => e instanceof BenchmarkInterrupted) ?? errors[0];
}


/** What every job of a suite shares (sent to --jobs workers as JSON). */
export interface JobContext {
  suite: Suite;
  out: string;
  data: BenchmarkData;
  backend?: BackendName;
}

/** One unit of a suite: a pretraining, or one downstream task for one backbone and seed (ckpt '' = random init). */
export type BenchJob = { kind: 'pretrain'; algo: 'mff' | 'mae' } | { kind: 'run'; taskId: string; backbone: Backbone; seed: number; ckpt: string };

async function pretrainConfig(ctx: JobContext, algo: 'mff' | 'mae') {
  const cfg = await loadPretrainConfig(ctx.suite.pretrain.configs[algo], { data: ctx.data.pool, cfgOptions: ctx.suite.pretrain.cfgOptions });
  cfg.workDir = runDir(ctx.out, 'pretrain', algo, cfg as unknown as Record<string, unknown>, { phase: 'pretrain' }).dir;
  return cfg;
}

const pretrainDir = async (ctx: JobContext, algo: 'mff' | 'mae') => (await pretrainConfig(ctx, algo)).workDir;

/** Run one job in this process (cached: a finished run is read back). */
export async function runJob(ctx: JobContext, job: BenchJob): Promise<PretrainResult | RunResult> {
  const { suite, out, data, backend } = ctx;
  if (job.kind === 'pretrain') {
    const cfg = await pretrainConfig(ctx, job.algo);
    const dir = cfg.workDir;
    return cachedRun<PretrainResult>(dir, async ({ resume, force }) => {
      const s = finished(await runPretrain(cfg, { backend, resume, force, quiet: true, configFile: suite.pretrain.configs[job.algo] }), dir);
      return {
        algorithm: job.algo, checkpoint: s.checkpoint, sha256: sha256(readFileSync(s.checkpoint)), run_dir: dir, iterations: s.iterations,
        final_loss: s.final_loss, wall_s: s.wall_s, img_per_s: s.img_per_s, fusion_weights: s.fusion_weights,
      };
    });
  }
  const task = suite.tasks.find((t) => t.id === job.taskId);
  if (!task) throw new Error(`benchmark job: unknown task '${job.taskId}'`);
  const cfgOptions = [...task.cfgOptions, `seed=${job.seed}`];
  return task.kind === 'cls'
    ? clsJob(task, job.backbone, job.seed, job.ckpt, cfgOptions, data, out, backend)
    : segJob(task, job.backbone, job.seed, job.ckpt, cfgOptions, segRoot(data, out, suite, task), out, backend);
}

/**
 * Default --jobs: 2 on the CPU engine when the machine has 2 or more cores (these small models keep one core busy far
 * better than two: README, Benchmark), else 1. GPU backends keep 1 (one process per device).
 */
function defaultJobs(backend: string): number {
  return backend.startsWith('wasm') && availableParallelism() >= 2 ? 2 : 1;
}

/** BLAS threads of each of `jobs` workers: the cores shared out (MFF_BLAS_THREADS, when set, wins). */
function workerThreads(jobs: number): number {
  return Number(process.env.MFF_BLAS_THREADS) || Math.max(1, Math.floor(availableParallelism() / jobs));
}

/**
 * `--jobs N`: N child processes (engine/benchmark/worker.ts), each running one job at a time with its share of the
 * cores. Jobs go to whichever worker is free; a job's result is the same in any worker (the kernels are bitwise
 * independent of the thread count), and its files are those of an in-process run.
 */
class WorkerPool {
  private readonly idle: ChildProcess[] = [];
  private readonly waiting: ((w: ChildProcess) => void)[] = [];
  private readonly all: ChildProcess[] = [];
  private nextId = 0;

  /** SIGINT / SIGTERM to the suite: passed on once to every worker (their runs finish the step, save and stop). */
  private readonly forward = (sig: NodeJS.Signals) => {
    for (const w of this.all) if (w.exitCode === null && w.signalCode === null) w.kill(sig);
  };

  constructor(n: number) {
    const entry = fileURLToPath(new URL('./worker.ts', import.meta.url));
    const env = { ...process.env, MFF_BLAS_THREADS: String(workerThreads(n)) };
    for (let i = 0; i < n; i++) {
      // detached: a terminal's Ctrl-C reaches the workers once, through `forward`, not twice (twice aborts a run)
      const w = fork(entry, [], { execArgv: ['--import', import.meta.resolve('tsx')], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
      this.all.push(w);
      this.idle.push(w);
    }
    process.on('SIGINT', this.forward);
    process.on('SIGTERM', this.forward);
  }

  private acquire(): Promise<ChildProcess> {
    const w = this.idle.pop();
    return w ? Promise.resolve(w) : new Promise((res) => this.waiting.push(res));
  }

  private release(w: ChildProcess): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  async run<T>(ctx: JobContext, job: BenchJob): Promise<T> {
    const w = await this.acquire();
    const id = this.nextId++;
    try {
      return await new Promise<T>((res, rej) => {
        const onMsg = (m: WorkerReply) => {
          if (m.id !== id) return;
          off();
          if (m.ok) res(m.result as T);
          else rej(m.interrupted ? new BenchmarkInterrupted(m.dir ?? '') : Object.assign(new Error(m.message), { stack: m.stack }));
        };
        const onExit = (code: number | null, signal: string | null) => {
          off();
          rej(new Error(`benchmark worker (pid ${w.pid}) exited (${signal ?? `code ${code}`}) during ${JSON.stringify(job)}`));
        };
        const off = () => {
          w.off('message', onMsg);
          w.off('exit', onExit);
        };
        w.on('message', onMsg);
        w.on('exit', onExit);
        w.send({ id, ctx, job });
      });
    } finally {
      if (w.exitCode === null && w.signalCode === null) this.release(w);
    }
  }

  close(): void {
    process.off('SIGINT', this.forward);
    process.off('SIGTERM', this.forward);
    for (const w of this.all) if (w.connected) w.disconnect();
  }
}

/** A worker's answer to one job. */
export interface WorkerReply {
  id: number;
  ok: boolean;
  result?: unknown;
  message?: string;
  stack?: string;
  interrupted?: boolean;
  dir?: string;
}

async function clsJob(task: BenchTask, backbone: Backbone, seed: number, ckpt: string, cfgOptions: string[], data: BenchmarkData, out: string, backend?: BackendName): Promise<RunResult> {
  const cfg = await loadClsConfig(task.config, { data: data.fashion, backbone: ckpt, mode: task.mode, cfgOptions });
  const { key, dir } = runDir(out, task.id, `${backbone}-s${seed}`, cfg as unknown as Record<string, unknown>, { task: task.id });
  cfg.workDir = dir;
  return cachedRun<RunResult>(dir, async ({ resume, force }) => {
    const s = finished(await runClsTrain(cfg, { backend, resume, force, quiet: true, configFile: task.config }), dir);
    return {
      task: task.id, backbone, seed, key, run_dir: relative(out, dir), value: s['accuracy/top1'],
      metrics: { 'accuracy/top1': s['accuracy/top1'], 'accuracy/top5': s['accuracy/top5'], mean_class_accuracy: s.mean_class_accuracy },
      per_class: null, wall_s: s.wall_s, img_per_s: s.img_per_s, final_loss: s.final_loss,
    };
  });
}

async function segJob(task: BenchTask, backbone: Backbone, seed: number, ckpt: string, cfgOptions: string[], root: string, out: string, backend?: BackendName): Promise<RunResult> {
  const cfg = await loadSegConfig(task.config, { data: root, backbone: ckpt, cfgOptions, frozenBackbone: task.frozenBackbone, head: task.head });
  const { key, dir } = runDir(out, task.id, `${backbone}-s${seed}`, cfg as unknown as Record<string, unknown>, { task: task.id });
  cfg.workDir = dir;
  return cachedRun<RunResult>(dir, async ({ resume, force }) => {
    const s = finished(await runSegTrain(cfg, { backend, resume, force, quiet: true, configFile: task.config, visCount: 2 }), dir);
    if (!s.metrics) throw new Error(`${dir}: seg-train ended without metrics (interrupted?)`);
    return {
      task: task.id, backbone, seed, key, run_dir: relative(out, dir), value: s.metrics.mIoU, metrics: s.metrics, per_class: s.per_class,
      wall_s: s.wall_s, img_per_s: s.img_per_s, final_loss: s.final_loss,
    };
  });
}
