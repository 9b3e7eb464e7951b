#!/bin/bash
# session 23: the ACDC and Synapse protocol rows on this machine, quiet (models kept)
cd /work/main
for p in acdc_cine synapse_ct; do
  rm -rf /work/runs/s23/work_${p}
  .venv/bin/python -m elsnet_core.cli bench ../shared/data/$p --setting volume --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95 --out /work/runs/s23/${p}_base.json --work-dir /work/runs/s23/work_${p} > /work/runs/s23/${p}_base.log 2>&1
done
