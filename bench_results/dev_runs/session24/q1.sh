#!/bin/bash
# Session 24: ELSNet `fast` (volume) from the study the new exemplar ranking suggests on CHAOS
# (case_19: registered NCC over all partners, pairs.py / variants.py), the atlas beside it. NOT
# the protocol (which fixes cases[0]). The budget is raised so that the other work on the
# machine cannot cut planned steps (700 + 400 ran in every CHAOS run of sessions 16-23).
cd /work/main
R=bench_results/dev_runs/session24
W=/work/runs/s24
.venv/bin/python -m elsnet_core.cli bench ../shared/data/chaos_mr_t2 --setting volume --preset fast --threads 2 --seed 0 \
  --exemplar case_19 --methods elsnet atlas --no-hd95 --set time_budget_s=1500 \
  --out $R/chaos_mr_t2_ex-case_19.json --work-dir $W/wd_ex_case_19 > $W/chaos_ex-case_19.log 2>&1
echo done > $W/q1.done
