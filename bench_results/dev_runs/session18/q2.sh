#!/bin/bash
# Session 18: ELSNet `fast` (volume) with the other exemplars of the exemplar-variance study
# (until now atlas-only), the atlas re-run beside it on the current registration. NOT the
# protocol (which fixes cases[0]); results go to bench_results/<pack>_volume_fast_ex-CASE.json
# via --out here, into this folder.
cd /work/main
R=bench_results/dev_runs/session18
W=/work/runs/s18
while [ ! -f $W/q1.done ]; do sleep 10; done
B=".venv/bin/python -m elsnet_core.cli bench"
run() { pack=$1; ex=$2; shift 2; $B ../shared/data/$pack --setting volume --preset fast --threads 2 --seed 0 --exemplar $ex --methods "$@" --out $R/${pack}_ex-$ex.json --work-dir $W/wd_ex_$ex > $W/${pack}_ex-$ex.log 2>&1; }
for ex in case_02 case_03 case_05 case_08; do run chaos_mr_t2 $ex elsnet atlas; done
for ex in patient002_frame01 patient007_frame01 patient008_frame01 patient011_frame01; do run acdc_cine $ex elsnet atlas; done
echo done > $W/q2.done
