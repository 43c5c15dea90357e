/** `mff cls-eval`: top-1/top-5 and per-class accuracy of a classifier checkpoint; per-image predictions as JSON lines. */
import { Command } from 'commander';
import { backendOption, collect, positiveInt, quietOption, requirePaths, skipBadFilesOption } from './common.js';
import { parseShard, type Shard } from '../eval/shard.js';
import type { BackendName } from '../backend/init.js';

interface Opts {
  checkpoint: string;
  config?: string;
  data?: string;
  split?: string;
  out?: string;
  workDir?: string;
  batchSize?: number;
  shard?: Shard;
  cfgOptions: string[];
  backend: BackendName;
  quiet: boolean;
  skipBadFiles: boolean;
}

export function clsEvalCommand(): Command {
  return new Command('cls-eval')
    .description('evaluate a classifier checkpoint: accuracy/top1, top5 and img/s on stderr, one JSON line on stdout; writes summary.json/md (per-class accuracy) and --out predictions')
    .requiredOption('--checkpoint <file>', 'cls.ckpt from mff cls-train (self-describing), or an mmpretrain classifier state dict as safetensors (needs --config)')
    .option('-c, --config <file>', "classifier config (required for a state dict without mff metadata) (default: the checkpoint's embedded config)")
    .option('--data <dir>', "dataset root in ImageNet layout (default: the config's data.root)")
    .option('--split <name>', "split folder to evaluate (default: the config's valSplit)")
    .option('--out <file>', 'per-image predictions, one JSON object per line (default: none)')
    .option('--work-dir <dir>', 'where summary.json/md (and shard accumulators) go (default: ./work_dirs/<run>/eval_<checkpoint>_<split>[/shard-I-of-N])')
    .option('--shard <I/N>', 'evaluate images k with k mod N = I (0-based) and write raw accumulators for mff merge-eval (default: all images)', (v: string) => parseShard(v))
    .option('--batch-size <n>', "images per forward pass (default: the config's batchSize, at most 256)", positiveInt('--batch-size'))
    .option('--cfg-options <key=value...>', 'override a value of --config (several: a=1 b=2, or repeat the option)', collect, [])
    .addOption(skipBadFilesOption())
    .addOption(backendOption())
    .addOption(quietOption())
    .action(async (o: Opts) => {
      requirePaths({ '--checkpoint': o.checkpoint, '--data': o.data });
      if (o.cfgOptions.length && !o.config) throw new Error('--cfg-options needs --config');
      const { loadClsConfig } = await import('../config/cls.js');
      const { runClsEval } = await import('../engine/run-cls-eval.js');
      const { printClsEval } = await import('../engine/report.js');
      const config = o.config ? await loadClsConfig(o.config, { cfgOptions: o.cfgOptions }) : undefined;
      const s = await runClsEval({
        checkpoint: o.checkpoint, config, configFile: o.config, data: o.data, split: o.split, out: o.out, workDir: o.workDir,
        batchSize: o.batchSize, shard: o.shard, backend: o.backend, quiet: o.quiet, skipBadFiles: o.skipBadFiles,
      });
      printClsEval(s, { quiet: o.quiet });
    });
}
