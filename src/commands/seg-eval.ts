/** `mff seg-eval`: evaluate a seg checkpoint (mIoU as mmseg IoUMetric), optionally writing predictions and comparisons. */
import { Command, Option } from 'commander';
import { backendOption, collect, positiveInt, quietOption, requirePaths, skipBadFilesOption } from './common.js';
import { parseShard, type Shard } from '../eval/shard.js';
import type { IoUMetricName } from '../metrics/iou.js';
import type { BackendName } from '../backend/init.js';

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
  skipBadFiles: boolean;
}

export function segEvalCommand(): Command {
  return new Command('seg-eval')
    .description('evaluate a segmentation checkpoint: aAcc / mIoU / mAcc and a per-class table on stderr, one JSON line on stdout; summary.json/md in --work-dir')
    .requiredOption('--checkpoint <file>', 'seg.ckpt from seg-train, or an mmseg state dict converted to safetensors (then --config)')
    .option('-c, --config <file>', "seg config describing the model (needed for a checkpoint without mff metadata) (default: the checkpoint's embedded config)")
    .option('--data <dir>', "dataset root (default: the config's data.root, the bundled scenes for the CPU configs)")
    .option('--out-dir <dir>', 'write prediction PNGs (annotation convention: +1 when reduce_zero_label) (default: none)')
    .option('--show-dir <dir>', 'write image | ground truth | prediction comparisons in the dataset palette, with a legend (default: none)')
    .option('--work-dir <dir>', 'where summary.json/md (and shard accumulators) go (default: ./work_dirs/<run>/eval_<checkpoint>_<split>[/shard-I-of-N])')
    .option('--concurrency <n>', 'images decoded and resized at once (default: data.concurrency)', positiveInt('--concurrency'))
    .addOption(new Option('--metrics <names...>', 'IoUMetric iou_metrics (default: the config evalMetrics)').choices(['mIoU', 'mDice', 'mFscore']))
    .option('--limit <n>', 'evaluate the first n images only (default: all)', positiveInt('--limit'))
    .option('--shard <I/N>', 'evaluate images k with k mod N = I (0-based) and write raw accumulators for mff merge-eval (default: all images)', (v: string) => parseShard(v))
    .option('--cfg-options <key=value...>', 'override a config value, e.g. data.testScale=[2048,512] (several: a=1 b=2, or repeat the option)', collect, [])
    .addOption(skipBadFilesOption())
    .addOption(backendOption())
    .addOption(quietOption())
    .action(async (o: SegEvalOpts) => {
      requirePaths({ '--checkpoint': o.checkpoint, '--data': o.data });
      const { runSegEval } = await import('../engine/run-seg-eval.js');
      const { printSegEval } = await import('../engine/report.js');
      const r = await runSegEval(o.checkpoint, {
        backend: o.backend, quiet: o.quiet, config: o.config, data: o.data, outDir: o.outDir, showDir: o.showDir, concurrency: o.concurrency,
        metrics: o.metrics, limit: o.limit, shard: o.shard, skipBadFiles: o.skipBadFiles, cfgOptions: o.cfgOptions, logTable: false, workDir: o.workDir, defaultWorkDir: true,
      });
      printSegEval(r, o.checkpoint, { quiet: o.quiet });
    });
}
