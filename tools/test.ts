/**
 * The seed's test entry point: `npx tsx tools/test.ts CONFIG CHECKPOINT [--data DIR] [--split S]`. Dispatches on
 * the config's `task`. For a pretraining config it reports the masked-reconstruction loss on the held-out split and
 * draws the reconstruction grid (original | masked | reconstruction | reconstruction + visible) into --show-dir
 * (default <checkpoint dir>/recon/).
 */
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { importConfig } from '../src/config/load.js';
import { loadPretrainConfig } from '../src/config/resolve.js';
import { runPretrainEval } from '../src/engine/eval-pretrain.js';
import { loadClsConfig } from '../src/config/cls.js';
import { runClsEval } from '../src/engine/run-cls-eval.js';
import { runSegEval } from '../src/engine/run-seg-eval.js';
import { printClsEval, printSegEval } from '../src/engine/report.js';
import type { BackendName } from '../src/backend/init.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string' },
    split: { type: 'string' },
    out: { type: 'string' },
    'out-dir': { type: 'string' },
    'show-dir': { type: 'string' },
    'cfg-options': { type: 'string', multiple: true, default: [] },
    backend: { type: 'string', default: process.env.MFF_BACKEND ?? 'auto' },
    quiet: { type: 'boolean', short: 'q', default: false },
  },
});

async function main(): Promise<void> {
  const [file, checkpoint] = positionals;
  if (!file || !checkpoint) throw new Error('usage: tools/test.ts CONFIG CHECKPOINT [--data DIR] [--split S] [--out preds.jsonl] [--out-dir DIR] [--show-dir DIR] [--quiet]');
  const { task } = await importConfig<{ task?: string }>(file);
  const flags = { data: values.data, cfgOptions: values['cfg-options'] };
  const backend = values.backend as BackendName;
  const quiet = values.quiet;
  switch (task) {
    case 'pretrain': {
      const cfg = await loadPretrainConfig(file, flags);
      // the reconstruction grid of the checkpoint: <--show-dir or the checkpoint's dir>/recon/<checkpoint>_<split>.png
      const split = values.split ?? 'val';
      const reconFile = join(values['show-dir'] ?? join(dirname(checkpoint), 'recon'), `${basename(checkpoint).replace(/\.[^.]+$/, '')}_${split}.png`);
      const r = await runPretrainEval(cfg, checkpoint, { backend, split, quiet, reconFile });
      console.log(JSON.stringify({ task: 'pretrain', ...r }));
      return;
    }
    case 'cls': {
      // prints exactly what `mff cls-eval` prints
      const config = await loadClsConfig(file, { cfgOptions: values['cfg-options'] });
      printClsEval(await runClsEval({ checkpoint, config, configFile: file, data: values.data, split: values.split, out: values.out, backend, quiet }), { quiet });
      return;
    }
    case 'seg': {
      const r = await runSegEval(checkpoint, {
        backend, quiet, config: file, data: values.data, cfgOptions: values['cfg-options'], outDir: values['out-dir'], showDir: values['show-dir'], logTable: false,
      });
      printSegEval(r, checkpoint, { quiet });
      return;
    }
    default:
      throw new Error(`${file}: unknown task '${String(task)}' (expected pretrain, cls or seg)`);
  }
}

main().catch((e: unknown) => {
  console.error(`tools/test.ts: error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
