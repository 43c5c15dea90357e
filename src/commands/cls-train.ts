/** `mff cls-train`: fine-tune or linear-probe a pretrained ViT; parse options, resolve the config, call runClsTrain (loaded lazily: see src/cli.ts). */
import { Command, Option } from 'commander';
import { backendOption, collect, forceOption, printJsonSummary, quietOption, requirePaths, skipBadFilesOption } from './common.js';
import { DEFAULT_CLS_CONFIGS } from '../config/defaults.js';
import type { BackendName } from '../backend/init.js';

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
    .option('-c, --config <file>', `config file (configs/mff/benchmarks/*.ts) (default per --mode: ${Object.entries(DEFAULT_CLS_CONFIGS).map(([m, f]) => `${m}: ${f}`).join(', ')})`)
    .addOption(new Option('--mode <mode>', "finetune or linear: picks the default config; must match --config (default: finetune, or --config's model.mode)").choices(['finetune', 'linear']))
    .option('--backbone <ckpt>', "pretrained checkpoint (mff pretrain output, or mmpretrain weights as safetensors); overrides pretrained (default: the config's, '' = from scratch)")
    .option('--data <dir>', "dataset root in ImageNet layout (<dir>/{train,val}/<class>/*); overrides data.root (default: the config's)")
    .option('--work-dir <dir>', "output directory; overrides workDir (default: the config's)")
    .option('--resume', 'continue from <work-dir>/resume.safetensors', false)
    .option('--cfg-options <key=value...>', 'override a config value, e.g. schedule.epochs=10 (several: a=1 b=2, or repeat the option)', collect, [])
    .addOption(forceOption())
    .addOption(skipBadFilesOption())
    .addOption(backendOption())
    .addOption(quietOption())
    .action(async (o: Opts) => {
      requirePaths({ '--backbone': o.backbone, '--data': o.data });
      const { adoptBackboneModel, loadClsConfig } = await import('../config/cls.js');
      const { runClsTrain } = await import('../engine/run-cls.js');
      const file = o.config ?? DEFAULT_CLS_CONFIGS[o.mode ?? 'finetune'];
      const cfg = await loadClsConfig(file, { data: o.data, workDir: o.workDir, backbone: o.backbone, mode: o.mode, cfgOptions: o.cfgOptions });
      // no --config: the ViT follows the backbone checkpoint (unless model.* was set on the command line)
      let note: string | null = null;
      if (!o.config && cfg.pretrained && !o.cfgOptions.some((c) => c.startsWith('model.'))) {
        const { loadCheckpoint } = await import('../io/checkpoint.js');
        note = adoptBackboneModel(cfg, loadCheckpoint(cfg.pretrained).meta);
      }
      const s = await runClsTrain(cfg, { backend: o.backend, resume: o.resume, configFile: file, quiet: o.quiet, note, force: o.force, skipBadFiles: o.skipBadFiles });
      printJsonSummary(s);
      if (s.interrupted) process.exitCode = 130;
    });
}
