#!/bin/bash
# Session 19: clean re-runs (nothing else on the machine) of the ELSNet fits that q1 ran while
# other work loaded the CPU (the 500 s budget cut stage 1: case_02 358/700, case_03 568/700).
# case_02 twice: with the misregistered-study rule (ea51cdc) and without it (2fff0e4, a
# worktree of that commit at /work/runs/old); case_03 with the rule (a no-op there: every
# study's best organ agrees >= 0.47).
R=/work/main/bench_results/dev_runs/session19
W=/work/runs/s19
while [ ! -f $W/q1.done ]; do sleep 10; done
cd /work/main
B="/work/shared/data/synapse_ct --setting volume --preset fast --threads 2 --seed 0 --methods elsnet"
.venv/bin/python -m elsnet_core.cli bench $B --exemplar case_02 --out $R/synapse_ct_ex-case_02_rule.json --work-dir $W/wd2_rule > $W/case_02_rule.log 2>&1
cd /work/runs/old
/work/main/.venv/bin/python -m elsnet_core.cli bench $B --exemplar case_02 --out $R/synapse_ct_ex-case_02_norule.json --work-dir $W/wd2_norule > $W/case_02_norule.log 2>&1
cd /work/main
.venv/bin/python -m elsnet_core.cli bench $B --exemplar case_03 --out $R/synapse_ct_ex-case_03_rerun.json --work-dir $W/wd3_rerun > $W/case_03_rerun.log 2>&1
echo done > $W/q2.done
