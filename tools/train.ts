/**
 * The seed's training entry point, mmpretrain/mmseg style: `npx tsx tools/train.ts CONFIG [--work-dir D] [--resume]
 * [--cfg-options k=v ...] [--backend B] [--quiet] [--force] [--skip-bad-files]`. Dispatches on the config's `task`.
 */
import { parseArgs } from 'node:util';
import { importConfig } from '../src/config/load.js';
import { loadPretrainConfig } from '../src/config/resolve.js';
import { runPretrain } from '../src/engine/run-pretrain.js';
import { loadClsConfig } from '../src/config/cls.js';
import { runClsTrain } from '../src/engine/run-cls.js';
import { loadSegConfig } from '../src/config/seg.js';
import { runSegTrain } from '../src/engine/run-seg.js';
import type { BackendName } from '../src/backend/init.js';
import { printJsonSummary } from '../src/commands/common.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'work-dir': { type: 'string' },
    data: { type: 'string' },
    resume: { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    'skip-bad-files': { type: 'boolean', default: false },
    quiet: { type: 'boolean', short: 'q', default: false },
    'cfg-options': { type: 'string', multiple: true, default: [] },
    backend: { type: 'string', default: process.env.MFF_BACKEND ?? 'auto' },
  },
});

async function main(): Promise<void> {
  const [file] = positionals;
  if (!file) throw new Error('usage: tools/train.ts CONFIG [--work-dir DIR] [--data DIR] [--resume] [--force] [--skip-bad-files] [--cfg-options key=value ...] [--quiet]');
  const { task } = await importConfig<{ task?: string }>(file);
  const flags = { data: values.data, workDir: values['work-dir'], cfgOptions: values['cfg-options'] };
  const backend = values.backend as BackendName;
  const run = { backend, resume: values.resume, force: values.force, skipBadFiles: values['skip-bad-files'], configFile: file, quiet: values.quiet };
  switch (task) {
    case 'pretrain': {
      const cfg = await loadPretrainConfig(file, flags);
      const s = await runPretrain(cfg, run);
      printJsonSummary(s); // as the mff commands: one JSON line on stdout
      if (s.interrupted) process.exitCode = 130;
      return;
    }
    case 'cls': {
      const cfg = await loadClsConfig(file, flags);
      const s = await runClsTrain(cfg, run);
      printJsonSummary(s); // as the mff commands: one JSON line on stdout
      if (s.interrupted) process.exitCode = 130;
      return;
    }
    case 'seg': {
      const cfg = await loadSegConfig(file, flags);
      const s = await runSegTrain(cfg, run);
      printJsonSummary(s); // as the mff commands: one JSON line on stdout
      if (s.interrupted) process.exitCode = 130;
      return;
    }
    default:
      throw new Error(`${file}: unknown task '${String(task)}' (expected pretrain, cls or seg)`);
  }
}

main().catch((e: unknown) => {
  console.error(`tools/train.ts: error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
