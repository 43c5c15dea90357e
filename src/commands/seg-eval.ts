/** `mff seg-eval`: evaluate a seg checkpoint (mIoU as mmseg IoUMetric), optionally writing predictions and overlays. */
import { Command, Option } from 'commander';
import { backendOption, collect, positiveInt, quietOption } from './common.js';
import { runSegEval, segEvalSpeed } from '../engine/run-seg-eval.js';
import { parseShard, type Shard } from '../eval/shard.js';
import { formatSummary } from '../metrics/table.js';
import type { IoUMetricName } from '../metrics/iou.js';
import type { BackendName } from '../backend.js';

interface SegEvalOpts {
  checkpoint: string;
  config?: string;
  data?: string;
  outDir?: string;
  showDir?: string;
  workDir?: string;
  concurrency?: number;
  metrics?: IoUMetricName[];
  limit?: number;
  shard?: Shard;
  cfgOptions: string[];
  backend: BackendName;
  quiet: boolean;
}

export function segEvalCommand(): Command {
  return new Command('seg-eval')
    .description('evaluate a segmentation checkpoint: aAcc / mIoU / mAcc and a per-class table; summary.json/md in --work-dir')
    .requiredOption('--checkpoint <file>', 'seg.ckpt from seg-train, or an mmseg state dict converted to safetensors (then --config)')
    .option('-c, --config <file>', 'seg config describing the model (needed for a checkpoint without mff metadata)')
    .option('--data <dir>', "dataset root (default: the config's data.root, the bundled scenes for the CPU configs)")
    .option('--out-dir <dir>', 'write prediction PNGs (annotation convention: +1 when reduce_zero_label)')
    .option('--show-dir <dir>', 'write prediction overlays in the dataset palette')
    .option('--work-dir <dir>', 'where summary.json/md (and shard accumulators) go (default: ./work_dirs/<run>/eval_<checkpoint>_<split>[/shard-I-of-N])')
    .option('--concurrency <n>', 'images decoded and resized at once (default: data.concurrency)', positiveInt('--concurrency'))
    .addOption(new Option('--metrics <names...>', 'IoUMetric iou_metrics (default: the config evalMetrics)').choices(['mIoU', 'mDice', 'mFscore']))
    .option('--limit <n>', 'evaluate the first n images only', positiveInt('--limit'))
    .option('--shard <I/N>', 'evaluate images k with k mod N = I (0-based) and write raw accumulators for mff merge-eval', (v: string) => parseShard(v))
    .option('--cfg-options <key=value>', 'override a config value, e.g. data.testScale=[2048,512] (repeatable)', collect, [])
    .addOption(backendOption())
    .addOption(quietOption())
    .action(async (o: SegEvalOpts) => {
      const r = await runSegEval(o.checkpoint, {
        backend: o.backend, quiet: o.quiet, config: o.config, data: o.data, outDir: o.outDir, showDir: o.showDir, concurrency: o.concurrency,
        metrics: o.metrics, limit: o.limit, shard: o.shard, cfgOptions: o.cfgOptions, logTable: false, workDir: o.workDir, defaultWorkDir: true,
      });
      printSegEval(r, o.checkpoint);
    });
}

/** What `mff seg-eval` and `tools/test.ts` print: the per-class table, the summary line, one JSON line. */
export function printSegEval(r: Awaited<ReturnType<typeof runSegEval>>, checkpoint: string): void {
  console.log(`per class results:\n${r.table}\n${formatSummary(r.metrics)}`);
  console.log(JSON.stringify({ checkpoint, images: r.numImages, ...r.metrics, ...segEvalSpeed(r), ...(r.workDir ? { work_dir: r.workDir } : {}) }));
}
