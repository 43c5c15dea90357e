/** `mff cls-train`: fine-tune or linear-probe a pretrained ViT; parse options, resolve the config, call runClsTrain. */
import { Command, Option } from 'commander';
import { backendOption, collect, forceOption, quietOption, skipBadFilesOption } from './common.js';
import { adoptBackboneModel, DEFAULT_CLS_CONFIGS, loadClsConfig } from '../config/cls.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { runClsTrain } from '../engine/run-cls.js';
import type { BackendName } from '../backend.js';

interface Opts {
  config?: string;
  mode?: 'finetune' | 'linear';
  backbone?: string;
  data?: string;
  workDir?: string;
  resume: boolean;
  cfgOptions: string[];
  backend: BackendName;
  quiet: boolean;
  force: boolean;
  skipBadFiles: boolean;
}

export function clsTrainCommand(): Command {
  return new Command('cls-train')
    .description('ImageNet-style transfer: fine-tune (AdamW + layer decay, Mixup/CutMix) or linear probe (frozen backbone, LARS); writes cls.ckpt, metrics.jsonl, summary.json/md and curves')
    .option('-c, --config <file>', `config file (configs/mff/benchmarks/*.ts); default per --mode: ${Object.values(DEFAULT_CLS_CONFIGS).join(', ')}`)
    .addOption(new Option('--mode <mode>', 'finetune or linear (picks the default config; must match --config)').choices(['finetune', 'linear']))
    .option('--backbone <ckpt>', 'pretrained checkpoint (mff pretrain output, or mmpretrain weights as safetensors); overrides pretrained')
    .option('--data <dir>', 'dataset root in ImageNet layout (<dir>/{train,val}/<class>/*); overrides data.root')
    .option('--work-dir <dir>', 'output directory; overrides workDir')
    .option('--resume', 'continue from <work-dir>/resume.safetensors', false)
    .option('--cfg-options <key=value>', 'override a config value, e.g. schedule.epochs=10 (repeatable)', collect, [])
    .addOption(forceOption())
    .addOption(skipBadFilesOption())
    .addOption(backendOption())
    .addOption(quietOption())
    .action(async (o: Opts) => {
      const file = o.config ?? DEFAULT_CLS_CONFIGS[o.mode ?? 'finetune'];
      const cfg = await loadClsConfig(file, { data: o.data, workDir: o.workDir, backbone: o.backbone, mode: o.mode, cfgOptions: o.cfgOptions });
      // no --config: the ViT follows the backbone checkpoint (unless model.* was set on the command line)
      if (!o.config && cfg.pretrained && !o.cfgOptions.some((c) => c.startsWith('model.'))) {
        const note = adoptBackboneModel(cfg, loadCheckpoint(cfg.pretrained).meta);
        if (note && !o.quiet) console.error(`[mff] ${note}`);
      }
      const s = await runClsTrain(cfg, { backend: o.backend, resume: o.resume, configFile: file, quiet: o.quiet, force: o.force, skipBadFiles: o.skipBadFiles });
      if (s.interrupted) process.exitCode = 130;
    });
}
