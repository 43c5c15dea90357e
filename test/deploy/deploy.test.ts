/**
 * deploy/: the cluster engines' shard logic, run locally. mff-shard.sh maps JOB_COMPLETION_INDEX (Kubernetes Indexed
 * Job) or SLURM_ARRAY_TASK_ID (Slurm array) to `--shard I/N` and a work dir per shard; the Kubernetes manifest and the
 * Slurm scripts are executed as written (their command, their env) with MFF=echo standing in for mff.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../engine/temp-dirs.js';

const DEPLOY = resolve(__dirname, '../../deploy');
const SHARD = join(DEPLOY, 'mff-shard.sh');
const CLUSTER_VARS = ['JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_COUNT', 'MFF_SHARDS', 'MFF_SHARD_INDEX', 'MFF_TASK', 'MFF_DEPLOY', 'MFF_MERGE_TIMEOUT', 'OUT', 'CHECKPOINT', 'DATA'];

/** Run a script with a clean cluster environment plus `env`; mff is `echo`, so stdout is the mff command line. */
function run(cmd: string[], env: Record<string, string>) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !CLUSTER_VARS.includes(k)));
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', env: { ...base, MFF: 'echo', ...env } });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

const shardOf = (line: string) => /--shard (\d+)\/(\d+) --work-dir (\S+)$/.exec(line)?.slice(1) ?? null;

describe('mff-shard.sh', () => {
  test('Kubernetes: JOB_COMPLETION_INDEX i of MFF_SHARDS N -> --shard i/N, one work dir per shard, all indices once', () => {
    const seen = [0, 1, 2, 3].map((i) => {
      const r = run([SHARD, 'seg-eval', '/out', '--checkpoint', '/d/seg.ckpt'], { JOB_COMPLETION_INDEX: String(i), MFF_SHARDS: '4' });
      expect(r.code, r.err).toBe(0);
      expect(r.out.startsWith('seg-eval --checkpoint /d/seg.ckpt --shard')).toBe(true);
      return shardOf(r.out);
    });
    expect(seen).toEqual([0, 1, 2, 3].map((i) => [String(i), '4', `/out/shard-${i}-of-4`]));
  });

  test('Slurm: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT (arrays may start at 1)', () => {
    const r = run([SHARD, 'cls-eval', '/o', '--checkpoint', 'c.ckpt'], { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '3', SLURM_ARRAY_TASK_COUNT: '4' });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('cls-eval --checkpoint c.ckpt --shard 2/4 --work-dir /o/shard-2-of-4');
  });

  test('fails with one line when the index or count is missing or out of range', () => {
    const none = run([SHARD, 'seg-eval', '/o'], { MFF_SHARDS: '4' });
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^mff-shard\.sh: no shard index: set MFF_SHARD_INDEX, or run as a Kubernetes Indexed Job/);
    expect(run([SHARD, 'seg-eval', '/o'], { JOB_COMPLETION_INDEX: '4', MFF_SHARDS: '4' }).err).toBe('mff-shard.sh: shard index 4 is not below the shard count 4');
    expect(run([SHARD, 'seg-eval', '/o'], { JOB_COMPLETION_INDEX: '1' }).err).toMatch(/set MFF_SHARDS/);
  });

  test('--merge waits for every shard.json, then merges the N shard dirs in order', () => {
    const out = tempDir('mff-deploy-');
    for (const i of [0, 2]) {
      mkdirSync(join(out, `shard-${i}-of-3`), { recursive: true });
      writeFileSync(join(out, `shard-${i}-of-3`, 'shard.json'), '{}');
    }
    const early = run([SHARD, '--merge', out], { MFF_SHARDS: '3', MFF_MERGE_TIMEOUT: '0' });
    expect(early.code).toBe(2);
    expect(early.err).toBe(`mff-shard.sh: only 2 of 3 shards finished in ${out} after 0s`);
    mkdirSync(join(out, 'shard-1-of-3'));
    writeFileSync(join(out, 'shard-1-of-3', 'shard.json'), '{}');
    const r = run([SHARD, '--merge', out, '-q'], { MFF_SHARDS: '3', MFF_MERGE_TIMEOUT: '0' });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`merge-eval ${[0, 1, 2].map((i) => `${out}/shard-${i}-of-3`).join(' ')} --work-dir ${out}/merged -q`);
  });
});

describe('deploy/k8s/seg-eval-indexed-job.yaml', () => {
  const yaml = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))', join(DEPLOY, 'k8s/seg-eval-indexed-job.yaml')], { encoding: 'utf8' });
  if (yaml.status !== 0) throw new Error(`cannot parse the manifest (python3 + PyYAML): ${yaml.stderr}`);
  const [job, merge] = JSON.parse(yaml.stdout);
  const envOf = (c: { env: { name: string; value: string }[] }) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));
  const local = (cmd: string[]) => cmd.map((a) => a.replace('/app/deploy/', `${DEPLOY}/`));

  test('an Indexed Job whose completions are the MFF_SHARDS its pods pass on; each pod runs its own shard', () => {
    expect(job.spec.completionMode).toBe('Indexed');
    const c = job.spec.template.spec.containers[0];
    const N = job.spec.completions;
    expect(envOf(c).MFF_SHARDS).toBe(String(N));
    expect(job.spec.parallelism).toBe(N);
    const shards = Array.from({ length: N }, (_, i) => {
      const r = run(local(c.command), { ...envOf(c), JOB_COMPLETION_INDEX: String(i) });
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('--checkpoint /data/checkpoints/seg.ckpt');
      return shardOf(r.out)!.slice(0, 2).join('/');
    });
    expect(shards).toEqual(Array.from({ length: N }, (_, i) => `${i}/${N}`));
  });

  test('the merge Job merges the same N shards from the same output claim', () => {
    const c = merge.spec.template.spec.containers[0];
    expect(envOf(c).MFF_SHARDS).toBe(String(job.spec.completions));
    expect(c.command.slice(1)).toEqual(['--merge', job.spec.template.spec.containers[0].command[2]]);
    expect(merge.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe(job.spec.template.spec.volumes[1].persistentVolumeClaim.claimName);
  });
});

describe('deploy/slurm', () => {
  test('seg-eval-array.sbatch: array task k of --array=0-(N-1) evaluates shard k/N', () => {
    const sbatch = join(DEPLOY, 'slurm/seg-eval-array.sbatch');
    const [, lo, hi] = /#SBATCH --array=(\d+)-(\d+)/.exec(readFileSync(sbatch, 'utf8'))!.map(Number);
    const N = hi - lo + 1;
    for (const k of [lo, hi]) {
      const env = { SLURM_ARRAY_TASK_ID: String(k), SLURM_ARRAY_TASK_MIN: String(lo), SLURM_ARRAY_TASK_COUNT: String(N), OUT: '/shared/eval', CHECKPOINT: '/shared/seg.ckpt', DATA: '/shared/ade', MFF_DEPLOY: DEPLOY };
      const r = run(['bash', sbatch], env);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(`seg-eval --checkpoint /shared/seg.ckpt --data /shared/ade --quiet --shard ${k - lo}/${N} --work-dir /shared/eval/shard-${k - lo}-of-${N}`);
    }
    const cls = run(['bash', sbatch], { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2', OUT: '/o', CHECKPOINT: 'cls.ckpt', MFF_DEPLOY: DEPLOY, MFF_TASK: 'cls-eval' });
    expect(cls.out).toBe('cls-eval --checkpoint cls.ckpt --quiet --shard 1/2 --work-dir /o/shard-1-of-2');
  });

  test('merge.sbatch merges MFF_SHARDS shards of OUT', () => {
    const out = tempDir('mff-deploy-');
    for (const i of [0, 1]) {
      mkdirSync(join(out, `shard-${i}-of-2`));
      writeFileSync(join(out, `shard-${i}-of-2`, 'shard.json'), '{}');
    }
    const r = run(['bash', join(DEPLOY, 'slurm/merge.sbatch')], { OUT: out, MFF_SHARDS: '2', MFF_DEPLOY: DEPLOY });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`merge-eval ${out}/shard-0-of-2 ${out}/shard-1-of-2 --work-dir ${out}/merged`);
  });
});
