/** `mff seg-train`: parse options, resolve the seg config, call runSegTrain (loaded lazily: see src/cli.ts). */
import { Command, Option } from 'commander';
import { backendOption, collect, forceOption, printJsonSummary, quietOption, requirePaths, skipBadFilesOption } from './common.js';
import { DEFAULT_SEG_CONFIG } from '../config/defaults.js';
import type { BackendName } from '../backend/init.js';

interface SegTrainOpts {
  config: string;
  backbone?: string;
  data?: string;
  workDir?: string;
  resume: boolean;
  eval: boolean;
  cfgOptions: string[];
  frozenBackbone: boolean;
  head?: 'uper' | 'linear';
  backend: BackendName;
  quiet: boolean;
  force: boolean;
  skipBadFiles: boolean;
}

export function segTrainCommand(): Command {
  return new Command('seg-train')
    .description('UperNet semantic segmentation (mmseg EncoderDecoder, MAE/MFF ViT backbone); writes seg.ckpt, metrics.jsonl, summary.json/md, loss curve, comparisons')
    .option('-c, --config <file>', 'seg config (configs/upernet/*.ts)', DEFAULT_SEG_CONFIG)
    .option('--backbone <ckpt>', "initialise the backbone from an MFF/MAE pretraining checkpoint (sets pretrained) (default: the config's pretrained, '' = random init)")
    .option('--data <dir>', "dataset root in ADE20K layout (images/, annotations/, optional meta.json); overrides data.root (default: the config's)")
    .option('--work-dir <dir>', "output directory; overrides workDir (default: the config's)")
    .option('--frozen-backbone', 'keep the backbone weights fixed (eval mode, no drop path; model.backbone.frozenStages = numLayers); train neck and heads', false)
    .addOption(new Option('--head <type>', "decode head: 'uper' (the config's UPerHead) or 'linear' (frozen-feature probe: BN + 1×1 conv on the backbone taps, no neck, no auxiliary head) (default: the config's decode head)").choices(['uper', 'linear']))
    .option('--resume', 'continue from <work-dir>/resume.safetensors', false)
    .option('--no-eval', 'skip the validation at the end (default: validate)')
    .option('--cfg-options <key=value...>', 'override a config value, e.g. schedule.maxIters=1000 (several: a=1 b=2, or repeat the option)', collect, [])
    .addOption(forceOption())
    .addOption(skipBadFilesOption())
    .addOption(backendOption())
    .addOption(quietOption())
    .action(async (o: SegTrainOpts) => {
      requirePaths({ '--backbone': o.backbone, '--data': o.data });
      const { loadSegConfig } = await import('../config/seg.js');
      const { runSegTrain } = await import('../engine/run-seg.js');
      const cfg = await loadSegConfig(o.config, { data: o.data, workDir: o.workDir, backbone: o.backbone, cfgOptions: o.cfgOptions, frozenBackbone: o.frozenBackbone, head: o.head });
      const s = await runSegTrain(cfg, { backend: o.backend, resume: o.resume, configFile: o.config, noEval: !o.eval, quiet: o.quiet, force: o.force, skipBadFiles: o.skipBadFiles });
      printJsonSummary(s);
      if (s.interrupted) process.exitCode = 130;
    });
}
