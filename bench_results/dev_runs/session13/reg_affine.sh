#!/bin/bash
# Session 13: does the cohort registration's anisotropic affine (which stretches CHAOS along z)
# hurt cohort synthesis? elsnet `fast`, volume setting, seed 0, one run at a time on an idle
# 2-vCPU machine. Variants: reg_affine = affine (default) | similarity | guarded.
# usage: reg_affine.sh PACK VARIANT...   (run from a worktree of the commit under test)
set -u
D=bench_results/dev_runs/session13
PACK=$1; shift
for V in "$@"; do
  /work/main/.venv/bin/python -m elsnet_core.cli bench ../shared/data/$PACK --setting volume \
    --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95 \
    --set "reg_affine=\"$V\"" --out $D/${PACK}_vol_${V}.json \
    --work-dir /tmp/s13work/${PACK}_${V} > $D/${PACK}_vol_${V}.log 2>&1
  echo "$PACK $V done rc=$? $(date +%T)" >> $D/queue.txt
done
