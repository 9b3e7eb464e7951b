#!/bin/bash
cd /work/s14
/work/main/.venv/bin/python -m elsnet_core.cli bench ../shared/data/synapse_ct --setting volume --preset fast --threads 2 \
    --methods elsnet --seed 0 --no-hd95 --set ce_class_power=0.5 --set ce_class_stage1_only=true --out /work/runs/synapse_cw05s1.json --work-dir /work/runs/w_syn_cw05s1 > /work/runs/synapse_cw05s1.log 2>&1
