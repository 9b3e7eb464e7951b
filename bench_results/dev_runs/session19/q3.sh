#!/bin/bash
# Session 19: protocol-exemplar ELSNet fits (volume, seed 0) whose saved models the component
# choice of the predictor is compared on offline (pick_components.py): CHAOS, ACDC, Synapse.
cd /work/main
R=bench_results/dev_runs/session19
W=/work/runs/s19
for P in chaos_mr_t2 acdc_cine synapse_ct; do
  .venv/bin/python -m elsnet_core.cli bench ../shared/data/$P --setting volume --preset fast --threads 2 --seed 0 --methods elsnet --out $R/${P}_protocol_s0.json --work-dir $W/wdp_$P > $W/${P}_protocol_s0.log 2>&1
done
echo done > $W/q3.done
