#!/bin/bash
# Session 18: a third seed (2) of the volume ELSNet row and its ablations on CHAOS and ACDC,
# where seeds 0 and 1 disagreed on the size of the contrastive / stage-2 effects.
cd /work/main
R=bench_results/dev_runs/session18
W=/work/runs/s18
B=".venv/bin/python -m elsnet_core.cli bench"
run() { pack=$1; set=$2; seed=$3; name=$4; shift 4; $B ../shared/data/$pack --setting $set --preset fast --threads 2 --seed $seed --methods "$@" --out $R/$name.json --work-dir $W/wd_$name > $W/$name.log 2>&1; }
run chaos_mr_t2 volume 2 chaos_v_abl_s2 elsnet elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2
run acdc_cine volume 2 acdc_v_abl_s2 elsnet elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2
echo done > $W/q1.done
