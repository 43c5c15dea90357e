/**
 * Where an evaluation writes when the user does not say: a work dir under the current directory, as mmseg's
 * tools/test.py uses `./work_dirs/<config name>`, never the checkpoint's folder (a read-only model store, a shared
 * checkpoint). Layout: `./work_dirs/<run>/eval_<checkpoint stem>_<split>[/shard-I-of-N]`, where <run> is the config
 * file's stem (--config), else the training run's work-dir name stored in the checkpoint, else the checkpoint's stem.
 */
import { basename, extname, join, resolve } from 'node:path';
import { shardDirName, type Shard } from '../eval/shard.js';

export interface EvalDirOptions {
  checkpoint: string;
  split: string;
  /** --config of a bare state dict. */
  configFile?: string;
  /** The config's workDir (the training run's), from the checkpoint metadata. */
  runWorkDir?: string;
  shard?: Shard;
  cwd?: string;
}

const stem = (f: string) => basename(f, extname(f));

/** `<run>/eval_<checkpoint stem>_<split>`: the evaluation's folder under work_dirs/ (shards record it for merge-eval). */
export function evalDirName(o: Omit<EvalDirOptions, 'shard' | 'cwd'>): string {
  const run = (o.configFile && stem(o.configFile)) || (o.runWorkDir && basename(o.runWorkDir)) || stem(o.checkpoint);
  return join(run, `eval_${stem(o.checkpoint)}_${o.split}`);
}

export function defaultEvalWorkDir(o: EvalDirOptions): string {
  const dir = join(resolve(o.cwd ?? process.cwd()), 'work_dirs', evalDirName(o));
  return o.shard ? join(dir, shardDirName(o.shard)) : dir;
}
