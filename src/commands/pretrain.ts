/** `mff pretrain`: parse options, resolve the config, call runPretrain. */
import { Command } from 'commander';
import { backendOption, collect, forceOption, quietOption, skipBadFilesOption } from './common.js';
import { loadPretrainConfig, DEFAULT_PRETRAIN_CONFIG } from '../config/resolve.js';
import { runPretrain } from '../engine/run-pretrain.js';
import type { BackendName } from '../backend.js';

export function pretrainCommand(): Command {
  return new Command('pretrain')
    .description('MFF (or MAE) masked-image pretraining of a ViT; writes the checkpoint, metrics.jsonl, summary.json/md and plots')
    .option('-c, --config <file>', 'config file (configs/mff/*.ts, configs/mae/*.ts)', DEFAULT_PRETRAIN_CONFIG)
    .option('--data <dir>', 'dataset root in ImageNet layout (<dir>/<split>/<class>/*); overrides data.root')
    .option('--work-dir <dir>', 'output directory; overrides workDir')
    .option('--resume', 'continue from <work-dir>/resume.safetensors', false)
    .option('--load-from <ckpt>', 'initialise weights from a checkpoint (ours or an mmpretrain state dict in safetensors)')
    .option('--arch <name>', 'ViT arch: deit-tiny | deit-small | base | large | small; overrides model.arch')
    .option('--cfg-options <key=value>', 'override a config value, e.g. schedule.epochs=10 (repeatable)', collect, [])
    .addOption(forceOption())
    .addOption(skipBadFilesOption())
    .addOption(backendOption())
    .addOption(quietOption())
    .action(async (o: { config: string; data?: string; workDir?: string; resume: boolean; loadFrom?: string; arch?: string; cfgOptions: string[]; backend: BackendName; quiet: boolean; force: boolean; skipBadFiles: boolean }) => {
      const cfgOptions = [...(o.arch ? [`model.arch=${o.arch}`] : []), ...o.cfgOptions];
      const cfg = await loadPretrainConfig(o.config, { data: o.data, workDir: o.workDir, cfgOptions });
      const s = await runPretrain(cfg, { backend: o.backend, resume: o.resume, configFile: o.config, loadFrom: o.loadFrom, quiet: o.quiet, force: o.force, skipBadFiles: o.skipBadFiles });
      if (s.interrupted) process.exitCode = 130;
    });
}
