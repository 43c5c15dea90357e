/** `mff pretrain`: parse options, resolve the config, call runPretrain (loaded lazily: see src/cli.ts). */
import { Command } from 'commander';
import { backendOption, collect, forceOption, printJsonSummary, quietOption, requirePaths, skipBadFilesOption } from './common.js';
import { DEFAULT_PRETRAIN_CONFIG } from '../config/defaults.js';
import type { BackendName } from '../backend/init.js';

interface Opts {
  config: string;
  data?: string;
  workDir?: string;
  resume: boolean;
  loadFrom?: string;
  arch?: string;
  cfgOptions: string[];
  backend: BackendName;
  quiet: boolean;
  force: boolean;
  skipBadFiles: boolean;
}

export function pretrainCommand(): Command {
  return new Command('pretrain')
    .description('MFF (or MAE) masked-image pretraining of a ViT; writes the checkpoint, metrics.jsonl, summary.json/md, plots and recon/ reconstruction grids')
    .option('-c, --config <file>', 'config file (configs/mff/*.ts, configs/mae/*.ts)', DEFAULT_PRETRAIN_CONFIG)
    .option('--data <dir>', "dataset root in ImageNet layout (<dir>/<split>/<class>/*); overrides data.root (default: the config's)")
    .option('--work-dir <dir>', "output directory; overrides workDir (default: the config's, work_dirs/<config name>)")
    .option('--resume', 'continue from <work-dir>/resume.safetensors', false)
    .option('--load-from <ckpt>', 'initialise weights from a checkpoint (ours or an mmpretrain state dict in safetensors) (default: none, random init)')
    .option('--arch <name>', "ViT arch: deit-tiny | deit-small | base | large | small; overrides model.arch (default: the config's)")
    .option('--cfg-options <key=value...>', 'override a config value, e.g. schedule.epochs=10 (several: a=1 b=2, or repeat the option)', collect, [])
    .addOption(forceOption())
    .addOption(skipBadFilesOption())
    .addOption(backendOption())
    .addOption(quietOption())
    .action(async (o: Opts) => {
      requirePaths({ '--data': o.data, '--load-from': o.loadFrom });
      const { loadPretrainConfig } = await import('../config/resolve.js');
      const { runPretrain } = await import('../engine/run-pretrain.js');
      const cfgOptions = [...(o.arch ? [`model.arch=${o.arch}`] : []), ...o.cfgOptions];
      const cfg = await loadPretrainConfig(o.config, { data: o.data, workDir: o.workDir, cfgOptions });
      const s = await runPretrain(cfg, { backend: o.backend, resume: o.resume, configFile: o.config, loadFrom: o.loadFrom, quiet: o.quiet, force: o.force, skipBadFiles: o.skipBadFiles });
      printJsonSummary(s);
      if (s.interrupted) process.exitCode = 130;
    });
}
