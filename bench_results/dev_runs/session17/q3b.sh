#!/bin/bash
# second seed of the volume ablations on the current code (CHAOS with its elsnet row; ACDC's
# seed-1 elsnet row is session 16's acdc_v_s1_def.json, the same computation)
cd /work/main
R=bench_results/dev_runs/session17
while [ ! -f $R/q2.done ]; do sleep 10; done
B=".venv/bin/python -m elsnet_core.cli bench"
run() { pack=$1; set=$2; seed=$3; name=$4; shift 4; $B ../shared/data/$pack --setting $set --preset fast --threads 2 --seed $seed --methods "$@" --out $R/$name.json --work-dir $R/wd_$name > $R/$name.log 2>&1; }
run chaos_mr_t2 volume 1 chaos_v_abl_s1 elsnet elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2
run acdc_cine volume 1 acdc_v_abl_s1 elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2
echo done > $R/q3.done
