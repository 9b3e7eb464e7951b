#!/bin/bash
# Session 24: ELSNet `fast` in the SLICE setting from the study the ranking suggests on CHAOS
# (case_19; the slice is the protocol's rule applied to it), after rank_check.py finished.
# NOT the protocol. Budget raised as in q1.sh.
cd /work/main
R=bench_results/dev_runs/session24
W=/work/runs/s24
while pgrep -f rank_check.py > /dev/null; do sleep 10; done
.venv/bin/python -m elsnet_core.cli bench ../shared/data/chaos_mr_t2 --setting slice --preset fast --threads 2 --seed 0 \
  --exemplar case_19 --methods elsnet --no-hd95 --set time_budget_s=1500 \
  --out $R/chaos_mr_t2_slice_ex-case_19.json --work-dir $W/wd_slice_ex_case_19 > $W/chaos_slice_ex-case_19.log 2>&1
echo done > $W/q2.done
