#!/bin/bash
# Synapse, exemplar case_04: pseudo-labels' component choice, largest (default) vs contenders
cd /work/main
.venv/bin/python -m elsnet_core.cli bench ../shared/data/synapse_ct --exemplar case_04 --setting volume --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95 --out /work/runs/s20/syn04_base.json --work-dir /work/runs/s20/syn04_base_wd > /work/runs/s20/syn04_base.log 2>&1
.venv/bin/python -m elsnet_core.cli bench ../shared/data/synapse_ct --exemplar case_04 --setting volume --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95 --set pseudo_contenders=true --out /work/runs/s20/syn04_cont.json --work-dir /work/runs/s20/syn04_cont_wd > /work/runs/s20/syn04_cont.log 2>&1
