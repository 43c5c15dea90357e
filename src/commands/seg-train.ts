/** `mff seg-train`: parse options, resolve the seg config, call runSegTrain. */
import { Command } from 'commander';
import { backendOption, collect, forceOption, quietOption, skipBadFilesOption } from './common.js';
import { DEFAULT_SEG_CONFIG, loadSegConfig } from '../config/seg.js';
import { runSegTrain } from '../engine/run-seg.js';
import type { BackendName } from '../backend.js';

interface SegTrainOpts {
  config: string;
  backbone?: string;
  data?: string;
  workDir?: string;
  resume: boolean;
  eval: boolean;
  cfgOptions: string[];
  backend: BackendName;
  quiet: boolean;
  force: boolean;
  skipBadFiles: boolean;
}

export function segTrainCommand(): Command {
  return new Command('seg-train')
    .description('UperNet semantic segmentation (mmseg EncoderDecoder, MAE/MFF ViT backbone); writes seg.ckpt, metrics.jsonl, summary.json/md, loss curve, overlays')
    .option('-c, --config <file>', 'seg config (configs/upernet/*.ts)', DEFAULT_SEG_CONFIG)
    .option('--backbone <ckpt>', 'initialise the backbone from an MFF/MAE pretraining checkpoint (sets pretrained)')
    .option('--data <dir>', 'dataset root in ADE20K layout (images/, annotations/, optional meta.json); overrides data.root')
    .option('--work-dir <dir>', 'output directory; overrides workDir')
    .option('--resume', 'continue from <work-dir>/resume.safetensors', false)
    .option('--no-eval', 'skip the validation at the end')
    .option('--cfg-options <key=value>', 'override a config value, e.g. schedule.maxIters=1000 (repeatable)', collect, [])
    .addOption(forceOption())
    .addOption(skipBadFilesOption())
    .addOption(backendOption())
    .addOption(quietOption())
    .action(async (o: SegTrainOpts) => {
      const cfg = await loadSegConfig(o.config, { data: o.data, workDir: o.workDir, backbone: o.backbone, cfgOptions: o.cfgOptions });
      const s = await runSegTrain(cfg, { backend: o.backend, resume: o.resume, configFile: o.config, noEval: !o.eval, quiet: o.quiet, force: o.force, skipBadFiles: o.skipBadFiles });
      if (s.metrics) console.log(JSON.stringify({ checkpoint: s.checkpoint, iterations: s.iterations, ...s.metrics }));
      if (s.interrupted) process.exitCode = 130;
    });
}
