/**
 * `mff benchmark` suites: what is pretrained (MFF and MAE with identical budgets) and which downstream tasks run for
 * each backbone (MFF, MAE, random init). Every task is an ordinary config of the commands plus cfg-options and flags,
 * i.e. exactly what a user gets from `mff cls-train` / `mff seg-train`.
 */
export type Backbone = 'mff' | 'mae' | 'random';
export const BACKBONES: Backbone[] = ['mff', 'mae', 'random'];

export interface BenchTask {
  /** Column id in the table, e.g. 'seg-finetune'. */
  id: string;
  /** Column title. */
  title: string;
  kind: 'cls' | 'seg';
  config: string;
  cfgOptions: string[];
  /** cls: --mode; seg: --frozen-backbone / --head. */
  mode?: 'finetune' | 'linear';
  frozenBackbone?: boolean;
  head?: 'uper' | 'linear';
  /** seg: train on the first round(fraction × N) (sorted) labelled training scenes. Default 1. */
  trainFraction?: number;
}

export interface Suite {
  /** UperNet seg iterations, linear-probe seg iterations and cls epochs of the tasks (suiteTasks), kept to rebuild them
   * with other budgets. */
  segIters: number;
  probeIters: number;
  clsEpochs: number;
  clsExtra?: string[];
  name: string;
  description: string;
  /** Unlabeled shape scenes generated for pretraining (datasets/scenes/shape.ts). */
  poolImages: number;
  pretrain: { configs: Record<'mff' | 'mae', string>; cfgOptions: string[] };
  /** Fashion-MNIST images per class exported for the classification tasks (6000 / 1000 = the whole set). */
  fashion: { trainPerClass: number; valPerClass: number };
  /** seg validation: the first N scenes of datasets/scenes-shape/validation (0 = all). */
  segValImages: number;
  tasks: BenchTask[];
  seeds: number;
}

const SEG = 'configs/upernet/upernet_mff-vit-mini-p8_1xb8-2ki_scenes-shape-64x64.ts';
const CLS_LINEAR = 'configs/mff/benchmarks/vit-mini-p8_1xb256-linear-coslr-6e_fashion-mnist-32px.ts';
const CLS_FINETUNE = 'configs/mff/benchmarks/vit-mini-p8_1xb128-coslr-6e_fashion-mnist-32px.ts';
const PRETRAIN = {
  mff: 'configs/mff/mff_vit-mini-p8_1xb64-coslr-40e_scenes-shape-pool.ts',
  mae: 'configs/mae/mae_vit-mini-p8_1xb64-coslr-40e_scenes-shape-pool.ts',
};

const iters = (n: number) => [`schedule.maxIters=${n}`, `schedule.warmupIters=${Math.max(1, Math.floor(n / 10))}`];

/**
 * The tasks. UperNet runs `segIters` (the control — frozen random-init below fine-tuned — needs 2000 on the shape
 * scenes: it fails at 500 and 1000); the linear probe converges sooner and runs `probeIters`.
 */
export function suiteTasks(segIters: number, probeIters: number, clsEpochs: number, clsExtra: string[] = []): BenchTask[] {
  const it = iters(segIters);
  const ep = [`schedule.epochs=${clsEpochs}`, `schedule.warmupEpochs=${clsEpochs > 1 ? 1 : 0}`, `evalInterval=${clsEpochs}`, ...clsExtra];
  return [
    { id: 'cls-linear', title: 'Fashion-MNIST linear top-1', kind: 'cls', config: CLS_LINEAR, cfgOptions: ep, mode: 'linear' },
    { id: 'cls-finetune', title: 'Fashion-MNIST fine-tune top-1', kind: 'cls', config: CLS_FINETUNE, cfgOptions: ep, mode: 'finetune' },
    { id: 'seg-finetune', title: 'seg fine-tune mIoU', kind: 'seg', config: SEG, cfgOptions: it },
    { id: 'seg-finetune-10pct', title: 'seg fine-tune 10 % labels mIoU', kind: 'seg', config: SEG, cfgOptions: it, trainFraction: 0.1 },
    { id: 'seg-frozen', title: 'seg frozen-backbone UperNet mIoU', kind: 'seg', config: SEG, cfgOptions: it, frozenBackbone: true },
    { id: 'seg-linear', title: 'seg frozen linear probe mIoU', kind: 'seg', config: SEG, cfgOptions: iters(probeIters), frozenBackbone: true, head: 'linear' },
  ];
}

export const SUITES: Record<string, Suite> = {
  default: {
    name: 'default',
    description: 'MFF vs MAE vs random init, pretrained on unlabeled shape scenes with identical budgets; Fashion-MNIST linear probe and fine-tune (60k, 32 px); shape-scene UperNet fine-tune (all / 10 % labels), frozen-backbone UperNet, frozen linear probe',
    poolImages: 4000,
    pretrain: { configs: PRETRAIN, cfgOptions: ['schedule.epochs=16', 'schedule.warmupEpochs=2'] },
    fashion: { trainPerClass: 6000, valPerClass: 1000 },
    segValImages: 0,
    segIters: 2000,
    probeIters: 1000,
    clsEpochs: 6,
    tasks: suiteTasks(2000, 1000, 6),
    seeds: 3,
  },
  quick: {
    name: 'quick',
    description: 'whole-stack smoke test (minutes): every phase and task of the default suite at toy sizes; checks files and finite metrics, not results',
    poolImages: 128,
    pretrain: { configs: PRETRAIN, cfgOptions: ['schedule.epochs=1', 'schedule.warmupEpochs=0', 'logInterval=1'] },
    fashion: { trainPerClass: 16, valPerClass: 4 },
    segValImages: 8,
    segIters: 6,
    probeIters: 6,
    clsEpochs: 1,
    clsExtra: ['batchSize=16'],
    tasks: suiteTasks(6, 6, 1, ['batchSize=16']),
    seeds: 1,
  },
};

/** The suite with other budgets (`--seg-iters`, `--probe-iters`, `--cls-epochs`, `--pretrain-epochs`); unchanged where undefined. */
export function withBudget(suite: Suite, b: { segIters?: number; probeIters?: number; clsEpochs?: number; pretrainEpochs?: number }): Suite {
  const segIters = b.segIters ?? suite.segIters;
  const probeIters = b.probeIters ?? suite.probeIters;
  const clsEpochs = b.clsEpochs ?? suite.clsEpochs;
  const pre = b.pretrainEpochs === undefined ? suite.pretrain.cfgOptions
    : [...suite.pretrain.cfgOptions.filter((o) => !/^schedule\.(epochs|warmupEpochs)=/.test(o)), `schedule.epochs=${b.pretrainEpochs}`, `schedule.warmupEpochs=${Math.min(2, Math.floor(b.pretrainEpochs / 8))}`];
  return { ...suite, segIters, probeIters, clsEpochs, pretrain: { ...suite.pretrain, cfgOptions: pre }, tasks: suiteTasks(segIters, probeIters, clsEpochs, suite.clsExtra) };
}
