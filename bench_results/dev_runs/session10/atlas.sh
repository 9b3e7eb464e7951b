#!/usr/bin/env bash
# Session 10: the protocol's atlas baselines (affine + demons, and affine only) on the code with
# repeatable registration (commit fbcc6e8: seed 0 used to reach SimpleITK as "wall clock"), from
# the same worktree as protocol.sh, 2 threads, HD95, one at a time.
set -u
WT=${WT:-/work/s10run}
OUT=${OUT:-/work/main/bench_results/dev_runs/session10}
cd "$WT"
for job in ${JOBS:-chaos_mr_t2:volume acdc_cine:volume synapse_ct:volume chaos_mr_t2:slice acdc_cine:slice synapse_ct:slice}; do
  pack=${job%%:*}; setting=${job#*:}
  /work/main/.venv/bin/python -m elsnet_core.cli bench ../shared/data/$pack --setting $setting \
    --preset fast --threads 2 --methods atlas atlas_affine --seed 0 \
    --work-dir /work/main/bench_results/tmp/s10_atlas_${pack}_${setting} \
    --out $OUT/atlas_${pack}_${setting}.json > $OUT/atlas_${pack}_${setting}.log 2>&1
done
