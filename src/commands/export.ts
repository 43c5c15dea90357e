/** `mff export --to mmpretrain|mmseg CKPT`: the OpenMMLab config of the run, beside its weights, to continue under torchrun. */
import { Command, Option } from 'commander';
import { collect, positiveInt, quietOption } from './common.js';
import type { ExportTo } from '../engine/run-export.js';

interface Opts {
  to: ExportTo;
  config?: string;
  outDir?: string;
  gpus: number;
  cfgOptions: string[];
  quiet: boolean;
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write the equivalent mmpretrain / mmseg Python config of a checkpoint\'s run beside its weights (then convert to .pth, train with torchrun)')
    .argument('<checkpoint>', 'a checkpoint written by mff pretrain, cls-train or seg-train')
    .addOption(new Option('--to <framework>', 'target: mmpretrain (pretraining, classification) or mmseg (segmentation) (required)').choices(['mmpretrain', 'mmseg']).makeOptionMandatory())
    .option('-c, --config <file>', 'for a pretraining checkpoint: the cls or seg config to train from its backbone (init_cfg) instead of continuing pretraining (default: none: continue the checkpoint\'s own task)')
    .option('--cfg-options <key=value...>', 'override a value of --config, e.g. model.numClasses=1000 (several: a=1 b=2, or repeat the option) (default: none)', collect, [])
    .option('--out-dir <dir>', 'where the .py and .safetensors go (default: ./work_dirs/<run>/export_<to>)')
    .option('--gpus <n>', 'GPUs of the OpenMMLab job: per-GPU batch = effective batch / n', positiveInt('--gpus'), 8)
    .addOption(quietOption())
    .action(async (checkpoint: string, o: Opts) => {
      const { runExport } = await import('../engine/run-export.js');
      const r = await runExport(checkpoint, { to: o.to, config: o.config, outDir: o.outDir, gpus: o.gpus, cfgOptions: o.cfgOptions, quiet: o.quiet });
      console.log(`config:  ${r.config}\nweights: ${r.weights}\nconvert: ${r.convert}\ntrain:   ${r.train}`);
    });
}
