#!/usr/bin/env bash
# Session 10: a second seed for the next-slice comparison: the protocol's one painted slice with
# seed 1 (`elsnet bench`, no HD95, from the protocol.sh worktree), then the two painted slices
# with seed 1 (two_slices.sh SEED=1). One run at a time, 2 threads.
set -u
WT=${WT:-/work/s10run}
OUT=/work/main/bench_results/dev_runs/session10
for pack in ${PACKS:-chaos_mr_t2 acdc_cine synapse_ct}; do
  (cd "$WT" && /work/main/.venv/bin/python -m elsnet_core.cli bench ../shared/data/$pack \
    --setting slice --preset fast --threads 2 --methods elsnet --seed 1 --no-hd95 \
    --work-dir /work/main/bench_results/tmp/s10_${pack}_slice_s1 \
    --out $OUT/slice_seed1_${pack}.json > $OUT/slice_seed1_${pack}.log 2>&1)
done
SEED=1 PACKS="${PACKS:-chaos_mr_t2 acdc_cine synapse_ct}" /work/main/bench_results/dev_runs/session10/two_slices.sh \
  > $OUT/two_slices_s1.out 2>&1
