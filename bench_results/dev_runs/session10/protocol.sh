#!/usr/bin/env bash
# Session 10: the protocol's `elsnet` rows (`fast`, 2 threads, seed 0, HD95) on the code with
# repeatable registration (commit fbcc6e8), one benchmark at a time. Run from a git worktree
# of that commit (WT) so that work in the main checkout cannot change the code under test.
set -u
WT=${WT:-/work/s10run}
OUT=${OUT:-/work/main/bench_results/dev_runs/session10}
cd "$WT"
for job in ${JOBS:-chaos_mr_t2:slice chaos_mr_t2:volume acdc_cine:slice acdc_cine:volume synapse_ct:slice synapse_ct:volume}; do
  pack=${job%%:*}; setting=${job#*:}
  /work/main/.venv/bin/python -m elsnet_core.cli bench ../shared/data/$pack --setting $setting \
    --preset fast --threads 2 --methods elsnet --seed 0 \
    --work-dir ${WORK:-/work/main/bench_results/tmp}/s10_${pack}_${setting} \
    --out $OUT/protocol_${pack}_${setting}.json > $OUT/protocol_${pack}_${setting}.log 2>&1
done
