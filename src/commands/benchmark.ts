/** `mff benchmark`: parse options, call runBenchmark (engine/benchmark/run-benchmark.ts). */
import { Command, Option } from 'commander';
import { backendOption, positiveInt } from './common.js';
import type { BackendName } from '../backend/init.js';

interface BenchmarkOpts {
  suite: string;
  quick: boolean;
  seeds?: number;
  out?: string;
  fashionMnist: string;
  tasks?: string;
  backbones?: string;
  segIters?: number;
  probeIters?: number;
  clsEpochs?: number;
  pretrainEpochs?: number;
  jobs?: number;
  backend: BackendName;
}

export function benchmarkCommand(): Command {
  return new Command('benchmark')
    .description('MFF vs MAE vs random init in one table: prepares the data, pretrains MFF and MAE with identical budgets, runs the classification and segmentation transfer tasks per backbone and seed, writes summary.json/md and plots (cached, resumable)')
    .addOption(new Option('--suite <name>', 'suite: default (the full benchmark) or quick (smoke test, minutes)').default('default'))
    .option('--quick', 'same as --suite quick', false)
    .option('--seeds <n>', "downstream seeds 0..n-1 (default: the suite's, 3 for default)", positiveInt('--seeds'))
    .option('--out <dir>', 'output folder; finished runs in it are reused (default: work_dirs/benchmark-<suite>)')
    .option('--fashion-mnist <dir>', 'Fashion-MNIST IDX folder (Debian dataset-fashion-mnist)', '/usr/share/datasets/fashion-mnist')
    .option('--tasks <ids>', 'comma-separated subset of the suite\'s tasks: cls-linear, cls-finetune, seg-finetune, seg-finetune-10pct, seg-frozen, seg-linear (default: all)')
    .option('--backbones <list>', 'comma-separated subset of mff, mae, random', 'mff,mae,random')
    .option('--seg-iters <n>', "iterations of the UperNet segmentation tasks (default: the suite's, 2000)", positiveInt('--seg-iters'))
    .option('--probe-iters <n>', "iterations of the segmentation linear probe (default: the suite's, 1000)", positiveInt('--probe-iters'))
    .option('--cls-epochs <n>', "epochs of every classification task (default: the suite's, 6)", positiveInt('--cls-epochs'))
    .option('--jobs <n>', 'runs at a time, each in its own process with its share of the cores; 1 = one run in this process (default: 2 on the CPU engine with >= 2 cores, else 1)', positiveInt('--jobs'))
    .option('--pretrain-epochs <n>', "epochs of both pretrainings (default: the suite's, 16)", positiveInt('--pretrain-epochs'))
    .addOption(backendOption())
    .action(async (o: BenchmarkOpts) => {
      const { runBenchmark, BenchmarkInterrupted } = await import('../engine/benchmark/run-benchmark.js');
      const backbones = (o.backbones ?? 'mff,mae,random').split(',').map((s) => s.trim());
      for (const b of backbones) if (!['mff', 'mae', 'random'].includes(b)) throw new Error(`--backbones: unknown backbone '${b}' (mff, mae, random)`);
      try {
        const r = await runBenchmark({
          suite: o.quick ? 'quick' : o.suite, seeds: o.seeds, out: o.out, fashionSrc: o.fashionMnist, backend: o.backend,
          segIters: o.segIters, probeIters: o.probeIters, clsEpochs: o.clsEpochs, pretrainEpochs: o.pretrainEpochs, jobs: o.jobs,
          tasks: o.tasks?.split(',').map((s) => s.trim()), backbones: backbones as ('mff' | 'mae' | 'random')[],
        });
        console.log(JSON.stringify({ summary: r.summaryJson, markdown: r.summaryMd, wall_s: r.wall_s, runs: r.runs.length }));
      } catch (e) {
        if (e instanceof BenchmarkInterrupted) {
          console.error(`mff benchmark: ${e.message}`);
          process.exitCode = 130;
          return;
        }
        throw e;
      }
    });
}
