#!/usr/bin/env bash
# Copyright the mff authors. SPDX-License-Identifier: Apache-2.0
#
# Side-by-side CPU throughput, one run: the project's `npm run bench` vs the real mmpretrain / mmseg on PyTorch-CPU,
# same model, same batch, same machine, alternating A/B (PyTorch, then ours, per figure) so both see the same
# background load. Figures: pretrain P, seg-train S, seg-eval S; with ADE=1 also seg-train ADE (ViT-S/16 UperNet,
# 512², batch 2, with_cp) and seg-eval ADE (ViT-B/16 UperNet, one 512² window).
# Usage, from the project root:  MM_SRC=<sources> [ADE=1] [ADE_STEPS=2] [LOG=file] tools/bench-torch/ratio.sh [rounds=2]
# LOG=file appends every raw line (PyTorch's lines, our JSON lines with their spread, GFLOP/s and load) to file.
# (see tools/bench-torch/README.md). P and S run the shared reference scripts unchanged (BENCH_TORCH_SHARED, default
# ../shared/bench-torch beside the project); ADE runs bench_torch_ade.py beside this file.
set -u
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd); rounds=${1:-2}
shared=${BENCH_TORCH_SHARED:-$root/../shared/bench-torch}
[ -n "${MM_SRC:-}" ] || { echo "set MM_SRC (see $here/README.md)"; exit 2; }
[ -f "$shared/bench_torch_mff.py" ] || { echo "no $shared/bench_torch_mff.py: set BENCH_TORCH_SHARED (see $here/README.md)"; exit 2; }
export MM_SRC BENCH_TORCH_SHARED=$shared
cd "$root" || exit 2
# PyTorch at its best on 2 cores: the better of (1 intra-op thread, OpenBLAS 2 threads) and (2 intra-op threads,
# OpenBLAS 1 thread), per figure; the core-type overrides slow current OpenBLAS, so both are unset (for ours too).
keep() { if [ -n "${LOG:-}" ]; then tee -a "$LOG"; else cat; fi; }
t12() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "$1" 1 "${@:2}" 2>/dev/null | keep; }
t21() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$1" 2 "${@:2}" 2>/dev/null | keep; }
best() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(max(v) if v else '')" "$@"; }
# ours: the figure's img_per_s from its JSON line (further arguments go to the bench)
ours() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE npm run -s bench -- --only "$1" "${@:2}" 2>/dev/null | keep | grep "\"bench\":\"$1\"" | grep -oE '"img_per_s":[0-9.]+' | cut -d: -f2; }
# PyTorch: the number before "img/s" (bench_torch_mff.py: "..., X img/s"; bench_torch_ade.py: "seg-...-ade ... = X img/s")
pimg() { grep -oE '[0-9.]+ img/s' | grep -oE '[0-9.]+' | head -1; }
fig() { grep -E "$1" | grep -oE '= [0-9.]+ img/s' | grep -oE '[0-9.]+' | head -1; }
load() { cut -d' ' -f1 /proc/loadavg; }
line() {  # round, figure, ours, PyTorch, load
  python3 - "$@" <<'PY'
import sys
r, name, o, t, load = sys.argv[1:]
f = lambda s: float(s) if s else float('nan')
print(f'round {r}  {name:12s} ours {f(o):9.4g} img/s   PyTorch {f(t):9.4g} img/s   ratio {f(o) / f(t):.2f}   load {load}', flush=True)
PY
}
for r in $(seq "$rounds"); do
  tp=$(best "$(t12 "$shared/bench_torch_mff.py" 10 | pimg)" "$(t21 "$shared/bench_torch_mff.py" 10 | pimg)")
  op=$(ours pretrain)
  line "$r" 'pretrain P' "$op" "$tp" "$(load)"
  sa=$(t12 "$shared/bench_torch_seg.py" 8); sb=$(t21 "$shared/bench_torch_seg.py" 8)
  # the shared script prints both figures on one line: "seg-train ... = X img/s; seg-eval ... = Y img/s"
  st() { grep -oE "seg-train[^=]*= [0-9.]+" | grep -oE '[0-9.]+$'; }
  se() { grep -oE "seg-eval[^=]*= [0-9.]+" | grep -oE '[0-9.]+$'; }
  tst=$(best "$(echo "$sa" | st)" "$(echo "$sb" | st)"); tse=$(best "$(echo "$sa" | se)" "$(echo "$sb" | se)")
  ost=$(ours seg-train); ose=$(ours seg-eval)
  line "$r" 'seg-train S' "$ost" "$tst" "$(load)"
  line "$r" 'seg-eval S' "$ose" "$tse" "$(load)"
  if [ "${ADE:-0}" = 1 ]; then
    n=${ADE_STEPS:-2}
    aa=$(t12 "$here/bench_torch_ade.py" "$n"); ab=$(t21 "$here/bench_torch_ade.py" "$n")
    tat=$(best "$(echo "$aa" | fig seg-train-ade)" "$(echo "$ab" | fig seg-train-ade)")
    tae=$(best "$(echo "$aa" | fig seg-eval-ade)" "$(echo "$ab" | fig seg-eval-ade)")
    oat=$(ours seg-train-ade --steps "$n"); oae=$(ours seg-eval-ade --steps "$n")
    line "$r" 'seg-train ADE' "$oat" "$tat" "$(load)"
    line "$r" 'seg-eval ADE' "$oae" "$tae" "$(load)"
  fi
done
