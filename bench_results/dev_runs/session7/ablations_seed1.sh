#!/bin/bash
# Session 7: volume-setting ablations with seed 1 on one machine, one pack after another
# (ELSNet and its three ablations side by side in each run; --no-hd95).
cd "$(dirname "$0")/../../.." || exit 1
for p in chaos_mr_t2 acdc_cine synapse_ct; do
  .venv/bin/python -m elsnet_core.cli bench ../shared/data/$p --setting volume --preset fast \
    --ablations --seed 1 --no-hd95 --out bench_results/dev_runs/session7/${p}_volume_seed1.json \
    --work-dir /tmp/s7/bench_$p > bench_results/dev_runs/session7/${p}_volume_seed1.log 2>&1
done
