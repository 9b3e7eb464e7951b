#!/bin/bash
# Session 17: every `fast` ablation/baseline row on the current code, one pack at a time.
cd /work/main
B=".venv/bin/python -m elsnet_core.cli bench"
R=bench_results/dev_runs/session17
run() { pack=$1; set=$2; name=$3; shift 3; $B ../shared/data/$pack --setting $set --preset fast --threads 2 --seed 0 --methods "$@" --out $R/$name.json --work-dir $R/wd_$name > $R/$name.log 2>&1; }
run chaos_mr_t2 volume chaos_v_abl unet_standard_aug elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2
run acdc_cine volume acdc_v_abl unet_standard_aug elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2
run synapse_ct volume syn_v_abl unet_standard_aug elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2
run acdc_cine slice acdc_sl_abl unet_standard_aug elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2 elsnet_no_completion
echo done > $R/q1.done
