/**
 * Evaluation shards: `--shard I/N` evaluates the images whose dataset index k satisfies k mod N = I (the order of
 * mmengine's DefaultSampler across ranks, `indices[rank::world_size]`; cls-eval deals whole batches instead, see
 * shardIndices), so every shard gets the same mix of the sorted file list and the N shards together cover each image
 * exactly once. A shard writes its raw accumulators
 * (eval/shard-io.ts); `mff merge-eval` replays them in dataset order.
 */

export interface Shard {
  /** 0-based shard index I. */
  index: number;
  /** Number of shards N. */
  count: number;
}

/** Parse `I/N` (0 <= I < N). */
export function parseShard(text: string, what = '--shard'): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`${what} must look like I/N (e.g. 0/4), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new Error(`${what} ${text}: N must be at least 1`);
  if (index >= count) throw new Error(`${what} ${text}: I must be in [0, ${count - 1}] (0-based)`);
  return { index, count };
}

export function formatShard(s: Shard): string {
  return `${s.index}/${s.count}`;
}

/**
 * The dataset indices of a shard among `total` images, ascending. With `unit` > 1 the images are dealt out in
 * consecutive groups of `unit` (group g to shard g mod N): cls-eval deals whole batches, so every image is computed in
 * the same batch as in an unsharded run and gets the same logits to the last bit (a batched matmul's rounding can
 * depend on the batch it runs in).
 */
export function shardIndices(total: number, s: Shard, unit = 1): number[] {
  const out: number[] = [];
  for (let g = s.index; g * unit < total; g += s.count) for (let k = g * unit; k < Math.min((g + 1) * unit, total); k++) out.push(k);
  return out;
}

/** Folder-name form, `shard-I-of-N`. */
export function shardDirName(s: Shard): string {
  return `shard-${s.index}-of-${s.count}`;
}
