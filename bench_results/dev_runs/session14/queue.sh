#!/bin/bash
cd /work/main
while pgrep -f "cli bench ../shared/data/acdc" > /dev/null; do sleep 5; done
E=bench_results/dev_runs/session14/prior_eval.py
.venv/bin/python $E ../shared/data/chaos_mr_t2 /work/runs/w_chaos_mr_t2/elsnet /work/runs/prior_chaos.json > /work/runs/prior_chaos.log 2>&1
.venv/bin/python $E ../shared/data/acdc_cine /work/runs/w_acdc_cine/elsnet /work/runs/prior_acdc.json > /work/runs/prior_acdc.log 2>&1
.venv/bin/python -m elsnet_core.cli bench ../shared/data/synapse_ct --setting volume --preset fast --threads 2 \
    --methods elsnet --seed 0 --no-hd95 --out /work/runs/synapse_ct.json --work-dir /work/runs/w_synapse_ct > /work/runs/synapse_ct.log 2>&1
.venv/bin/python $E ../shared/data/synapse_ct /work/runs/w_synapse_ct/elsnet /work/runs/prior_synapse.json > /work/runs/prior_synapse.log 2>&1
