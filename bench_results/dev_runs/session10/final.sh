#!/usr/bin/env bash
# Session 10, final code: the protocol's `elsnet` rows again (commit 458dbed: repeatable
# registration and a learning-rate schedule that no longer reads the clock when the budget
# does not bind), then the CHAOS slice run once more to check that the same seed gives the
# same Dice at full scale. One run at a time, 2 threads, HD95.
set -u
D=/work/main/bench_results/dev_runs/session10
WORK=/work/main/bench_results/tmp/final WT=/work/s10run2 OUT=$D/final JOBS="chaos_mr_t2:slice chaos_mr_t2:volume acdc_cine:slice acdc_cine:volume synapse_ct:slice synapse_ct:volume" $D/protocol.sh
mkdir -p $D/final/repeat
WORK=/work/main/bench_results/tmp/final_repeat WT=/work/s10run2 OUT=$D/final/repeat JOBS="chaos_mr_t2:slice" $D/protocol.sh
