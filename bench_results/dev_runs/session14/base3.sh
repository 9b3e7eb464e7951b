#!/bin/bash
# session 14: base models kept (work dirs) for the registration-prior experiment
cd /work/main
for p in chaos_mr_t2 acdc_cine synapse_ct; do
  .venv/bin/python -m elsnet_core.cli bench ../shared/data/$p --setting volume --preset fast --threads 2 \
    --methods elsnet --seed 0 --no-hd95 --out /work/runs/$p.json --work-dir /work/runs/w_$p > /work/runs/$p.log 2>&1
done
