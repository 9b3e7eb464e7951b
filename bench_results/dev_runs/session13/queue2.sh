#!/bin/bash
# Session 13, after reg_affine.sh: this machine's default-config models for the post-hoc
# test-time experiments (tta_eval.py), and ACDC's slice ablations on the current code.
set -u
D=bench_results/dev_runs/session13
while ! grep -q "chaos_mr_t2 guarded done" $D/queue.txt 2>/dev/null; do sleep 10; done
run() {  # name pack setting methods...
  local N=$1 P=$2 S=$3; shift 3
  /work/main/.venv/bin/python -m elsnet_core.cli bench ../shared/data/$P --setting $S \
    --preset fast --threads 2 --methods "$@" --seed 0 --no-hd95 \
    --out $D/$N.json --work-dir /tmp/s13work/$N > $D/$N.log 2>&1
  echo "$N done rc=$? $(date +%T)" >> $D/queue.txt
}
run acdc_vol acdc_cine volume elsnet
run synapse_vol synapse_ct volume elsnet
run chaos_slice chaos_mr_t2 slice elsnet
run acdc_slice acdc_cine slice elsnet elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2
