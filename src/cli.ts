/** The `mff` command line: one sub-command per task; each command file parses options and calls a run* function. */
import { Command } from 'commander';
import { pretrainCommand } from './commands/pretrain.js';
import { clsTrainCommand } from './commands/cls-train.js';
import { clsEvalCommand } from './commands/cls-eval.js';
import { segTrainCommand } from './commands/seg-train.js';
import { segEvalCommand } from './commands/seg-eval.js';
import { benchmarkCommand } from './commands/benchmark.js';
import { mergeEvalCommand } from './commands/merge-eval.js';
import { exportCommand } from './commands/export.js';

const program = new Command()
  .name('mff')
  .description('MFF / MAE masked-image pretraining, ImageNet transfer and ADE20K UperNet on TensorFlow.js (mmpretrain/mmseg compatible)')
  .version('0.1.0')
  .addCommand(pretrainCommand())
  .addCommand(clsTrainCommand())
  .addCommand(clsEvalCommand())
  .addCommand(segTrainCommand())
  .addCommand(segEvalCommand())
  .addCommand(mergeEvalCommand())
  .addCommand(exportCommand())
  .addCommand(benchmarkCommand());

program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`mff: error: ${e instanceof Error ? e.message : String(e)}`);
  if (process.env.MFF_DEBUG) console.error(e);
  process.exit(1);
});
