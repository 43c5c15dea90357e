/** `mff merge-eval DIR...`: the metrics of a sharded seg-eval / cls-eval, exactly as one unsharded run prints them. */
import { Command } from 'commander';
import { quietOption } from './common.js';

interface Opts {
  workDir?: string;
  out?: string;
  quiet: boolean;
}

export function mergeEvalCommand(): Command {
  return new Command('merge-eval')
    .description('sum the accumulators of seg-eval / cls-eval --shard I/N runs into the metrics of the whole split (same output as one run)')
    .argument('<dirs...>', 'the shard work dirs (each holds shard.json), all N of one evaluation')
    .option('--work-dir <dir>', 'where the merged summary.json/md go (default: ./work_dirs/<run>/eval_<checkpoint>_<split>, as the shards recorded)')
    .option('--out <file>', 'cls: merged per-image predictions, one JSON object per line (default: <work dir>/predictions.jsonl)')
    .addOption(quietOption())
    .action(async (dirs: string[], o: Opts) => {
      const { runMergeEval } = await import('../engine/merge-eval.js');
      const { printClsEval, printSegEval } = await import('../engine/report.js');
      const r = await runMergeEval(dirs, { workDir: o.workDir, out: o.out, quiet: o.quiet });
      if (r.task === 'seg-eval') printSegEval(r.seg, r.checkpoint, { quiet: o.quiet });
      else printClsEval(r.cls, { quiet: o.quiet });
    });
}
