#!/bin/bash
# Session 13, after reg_affine.sh: ACDC's slice row and ablations on the current code.
set -u
D=bench_results/dev_runs/session13
while ! grep -q "chaos_mr_t2 guarded done" $D/queue.txt 2>/dev/null; do sleep 10; done
run() {  # name pack setting methods...
  local N=$1 P=$2 S=$3; shift 3
  /work/main/.venv/bin/python -m elsnet_core.cli bench ../shared/data/$P --setting $S \
    --preset fast --threads 2 --methods "$@" --seed 0 \
    --out $D/$N.json --work-dir /tmp/s13work/$N > $D/$N.log 2>&1
  echo "$N done rc=$? $(date +%T)" >> $D/queue.txt
}
run acdc_slice acdc_cine slice elsnet elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2
