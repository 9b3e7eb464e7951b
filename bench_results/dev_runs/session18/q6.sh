#!/bin/bash
# Session 18: ELSNet without cohort-learned synthesis over the four other exemplars (volume,
# seed 0; NOT the protocol), merged into q2's JSONs beside ELSNet / atlas / U-Net.
cd /work/main
R=bench_results/dev_runs/session18
W=/work/runs/s18
B=".venv/bin/python -m elsnet_core.cli bench"
run() { pack=$1; ex=$2; shift 2; $B ../shared/data/$pack --setting volume --preset fast --threads 2 --seed 0 --exemplar $ex --methods "$@" --out $R/${pack}_ex-$ex.json --work-dir $W/wd_ex_$ex >> $W/${pack}_ex-$ex.log 2>&1; }
for ex in case_02 case_03 case_05 case_08; do run chaos_mr_t2 $ex elsnet_no_cohort_synthesis; done
for ex in patient002_frame01 patient007_frame01 patient008_frame01 patient011_frame01; do run acdc_cine $ex elsnet_no_cohort_synthesis; done
echo done > $W/q6.done
