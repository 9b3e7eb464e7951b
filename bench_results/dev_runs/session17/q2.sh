#!/bin/bash
cd /work/main
R=bench_results/dev_runs/session17
while [ ! -f $R/q1.done ]; do sleep 10; done
B=".venv/bin/python -m elsnet_core.cli bench"
run() { pack=$1; set=$2; name=$3; shift 3; $B ../shared/data/$pack --setting $set --preset fast --threads 2 --seed 0 --methods "$@" --out $R/$name.json --work-dir $R/wd_$name > $R/$name.log 2>&1; }
run chaos_mr_t2 slice chaos_sl_abl unet_standard_aug elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2 elsnet_no_completion
echo done > $R/q2.done
