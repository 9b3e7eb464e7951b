#!/bin/bash
# Session 18, after q3: over the same four other exemplars of CHAOS and ACDC (NOT the
# protocol), (a) the U-Net baseline in the volume setting, beside q2's ELSNet and atlas rows
# (merged into the same JSONs), then (b) ELSNet in the slice setting (one painted slice,
# chosen by the protocol's rule on that exemplar).
cd /work/main
R=bench_results/dev_runs/session18
W=/work/runs/s18
while [ ! -f $W/q3.done ]; do sleep 10; done
B=".venv/bin/python -m elsnet_core.cli bench"
run() { pack=$1; set=$2; ex=$3; shift 3; tag=$pack; [ $set = slice ] && tag=${pack}_slice; $B ../shared/data/$pack --setting $set --preset fast --threads 2 --seed 0 --exemplar $ex --methods "$@" --out $R/${tag}_ex-$ex.json --work-dir $W/wd_${set}_$ex >> $W/${tag}_ex-$ex.log 2>&1; }
C="case_02 case_03 case_05 case_08"; A="patient002_frame01 patient007_frame01 patient008_frame01 patient011_frame01"
for ex in $C; do run chaos_mr_t2 volume $ex unet_standard_aug; done
for ex in $A; do run acdc_cine volume $ex unet_standard_aug; done
for ex in $C; do run chaos_mr_t2 slice $ex elsnet; done
for ex in $A; do run acdc_cine slice $ex elsnet; done
echo done > $W/q4.done
