#!/bin/bash
# Submit a sharded seg-eval: N array tasks, then the merge once all of them succeeded.
#   OUT=/shared/eval CHECKPOINT=/shared/seg.ckpt [DATA=/shared/ade] [MFF_TASK=cls-eval] deploy/slurm/submit.sh [N]
set -euo pipefail
n="${1:-8}"
here="$(cd "$(dirname "$0")" && pwd)"
export MFF_DEPLOY="$here/.." OUT CHECKPOINT DATA="${DATA:-}" MFF_TASK="${MFF_TASK:-seg-eval}"
jid=$(sbatch --parsable --array="0-$((n - 1))" --export=ALL "$here/seg-eval-array.sbatch")
sbatch --parsable --dependency="afterok:${jid%%;*}" --export=ALL,MFF_SHARDS="$n" "$here/merge.sbatch"
