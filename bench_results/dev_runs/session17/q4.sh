#!/bin/bash
# Synapse slice U-Net + ablations on the current code (after the fresh-clone test is done)
cd /work/main
R=bench_results/dev_runs/session17
while ! grep -q "^real" $R/fresh_test.log; do sleep 5; done
B=".venv/bin/python -m elsnet_core.cli bench"
$B ../shared/data/synapse_ct --setting slice --preset fast --threads 2 --seed 0 --methods unet_standard_aug elsnet_no_completion elsnet_no_cohort_synthesis elsnet_no_contrastive elsnet_no_stage2 --out $R/syn_sl_abl.json --work-dir $R/wd_syn_sl_abl > $R/syn_sl_abl.log 2>&1
echo done > $R/q4.done
