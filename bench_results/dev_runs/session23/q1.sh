#!/bin/bash
# session 23: protocol elsnet fits on this machine (models kept for post-processing analysis)
cd /work/main
for p in chaos_mr_t2 acdc_cine synapse_ct; do
  .venv/bin/python -m elsnet_core.cli bench ../shared/data/$p --setting volume --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95 --out /work/runs/s23/${p}_base.json --work-dir /work/runs/s23/work_${p} > /work/runs/s23/${p}_base.log 2>&1
done
