#!/bin/bash
# Session 18: Synapse volume, seed 1: ELSNet and the two ablations whose effect the MR packs
# left uncertain (contrastive, stage 2). Runs after q2.
cd /work/main
R=bench_results/dev_runs/session18
W=/work/runs/s18
while [ ! -f $W/q2.done ]; do sleep 10; done
.venv/bin/python -m elsnet_core.cli bench ../shared/data/synapse_ct --setting volume --preset fast --threads 2 --seed 1 --methods elsnet elsnet_no_contrastive elsnet_no_stage2 --out $R/syn_v_abl_s1.json --work-dir $W/wd_syn_v_abl_s1 > $W/syn_v_abl_s1.log 2>&1
echo done > $W/q3.done
