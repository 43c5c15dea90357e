/**
 * The `mff` command line: one sub-command per task. The lazy-loading rule that keeps --help, --version and option
 * errors instant: this file and src/commands/* import only commander, ./commands/common.js, ../config/defaults.js
 * and types at top level; each command's action `await import()`s its config loader and run* module, so tfjs, the
 * wasm binary and the native addon load only when a command runs (test/cli-startup.test.ts checks it). bin/mff.js
 * runs this skeleton from an esbuild bundle without tsx; tsx is registered below once a command's action runs.
 * A new command follows src/commands/pretrain.ts: options (with their defaults in the help text), then an action
 * that imports its loader and run* module and prints the run's summary with printJsonSummary.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { pretrainCommand } from './commands/pretrain.js';
import { clsTrainCommand } from './commands/cls-train.js';
import { clsEvalCommand } from './commands/cls-eval.js';
import { segTrainCommand } from './commands/seg-train.js';
import { segEvalCommand } from './commands/seg-eval.js';
import { benchmarkCommand } from './commands/benchmark.js';
import { mergeEvalCommand } from './commands/merge-eval.js';
import { exportCommand } from './commands/export.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('mff')
  .description('MFF / MAE masked-image pretraining, ImageNet transfer and ADE20K UperNet on TensorFlow.js (mmpretrain/mmseg compatible)')
  .version(version)
  .showHelpAfterError('(add --help for the options)')
  // started from bin/mff.js's bundle, without tsx: TypeScript support for the run* modules and configs, now
  .hook('preAction', async () => {
    if (process.env.MFF_CLI_FAST !== '1') return;
    delete process.env.MFF_CLI_FAST;
    (await import('tsx/esm/api')).register();
  })
  .addCommand(pretrainCommand())
  .addCommand(clsTrainCommand())
  .addCommand(clsEvalCommand())
  .addCommand(segTrainCommand())
  .addCommand(segEvalCommand())
  .addCommand(mergeEvalCommand())
  .addCommand(exportCommand())
  .addCommand(benchmarkCommand());

for (const c of program.commands) c.showHelpAfterError(`(add --help for the options of mff ${c.name()})`);

program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`mff: error: ${e instanceof Error ? e.message : String(e)}`);
  if (process.env.MFF_DEBUG) console.error(e);
  process.exit(1);
});
