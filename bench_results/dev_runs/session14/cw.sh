#!/bin/bash
cd /work/s14
P=/work/main/.venv/bin/python
$P -m elsnet_core.cli bench ../shared/data/synapse_ct --setting volume --preset fast --threads 2 \
    --methods elsnet --seed 0 --no-hd95 --set ce_class_power=0.25 --out /work/runs/synapse_cw025.json --work-dir /work/runs/w_syn_cw025 > /work/runs/synapse_cw025.log 2>&1
