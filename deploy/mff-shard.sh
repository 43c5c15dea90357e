#!/bin/sh
# Run one shard of an mff evaluation on a cluster engine, then (with --merge) the merge.
#
#   mff-shard.sh seg-eval|cls-eval OUT_DIR [mff args...]   evaluate shard I of N into OUT_DIR/shard-I-of-N
#   mff-shard.sh --merge OUT_DIR [merge-eval args...]      wait for all N shards, merge them into OUT_DIR/merged
#
# I (0-based) comes from MFF_SHARD_INDEX, else the Kubernetes Indexed Job's JOB_COMPLETION_INDEX, else Slurm's
# SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN. N comes from MFF_SHARDS, else SLURM_ARRAY_TASK_COUNT.
# MFF names the mff command (default: mff); MFF_MERGE_TIMEOUT the seconds --merge waits for the shards (default 86400).
set -eu

die() { echo "mff-shard.sh: $*" >&2; exit 2; }
is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

shards() {
  n="${MFF_SHARDS:-${SLURM_ARRAY_TASK_COUNT:-}}"
  [ -n "$n" ] || die "set MFF_SHARDS (Kubernetes: the Job's completions) or run as a Slurm array"
  is_uint "$n" && [ "$n" -ge 1 ] || die "shard count '$n' is not a positive integer"
  echo "$n"
}

shard_index() {
  if [ -n "${MFF_SHARD_INDEX:-}" ]; then i="$MFF_SHARD_INDEX"
  elif [ -n "${JOB_COMPLETION_INDEX:-}" ]; then i="$JOB_COMPLETION_INDEX"
  elif [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    is_uint "$SLURM_ARRAY_TASK_ID" || die "SLURM_ARRAY_TASK_ID '$SLURM_ARRAY_TASK_ID' is not an integer"
    i=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))
  else die "no shard index: set MFF_SHARD_INDEX, or run as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or a Slurm array (SLURM_ARRAY_TASK_ID)"
  fi
  is_uint "$i" || die "shard index '$i' is not a non-negative integer"
  echo "$i"
}

[ $# -ge 2 ] || die "usage: mff-shard.sh seg-eval|cls-eval OUT_DIR [mff args...] | mff-shard.sh --merge OUT_DIR [args...]"
task="$1"; out="$2"; shift 2
n=$(shards)

case "$task" in
  seg-eval | cls-eval)
    i=$(shard_index)
    [ "$i" -lt "$n" ] || die "shard index $i is not below the shard count $n"
    exec ${MFF:-mff} "$task" "$@" --shard "$i/$n" --work-dir "$out/shard-$i-of-$n"
    ;;
  --merge)
    waited=0
    limit="${MFF_MERGE_TIMEOUT:-86400}"
    while :; do
      have=$(ls "$out"/shard-*-of-"$n"/shard.json 2>/dev/null | wc -l)
      [ "$have" -ge "$n" ] && break
      [ "$waited" -lt "$limit" ] || die "only $have of $n shards finished in $out after ${limit}s"
      sleep 10; waited=$((waited + 10))
    done
    dirs=""
    k=0
    while [ "$k" -lt "$n" ]; do dirs="$dirs $out/shard-$k-of-$n"; k=$((k + 1)); done
    # shellcheck disable=SC2086 # the shard dirs are one word each
    exec ${MFF:-mff} merge-eval $dirs --work-dir "$out/merged" "$@"
    ;;
  *) die "unknown task '$task' (seg-eval, cls-eval or --merge)" ;;
esac
