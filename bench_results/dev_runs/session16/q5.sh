#!/bin/bash
cd /work/main
B=".venv/bin/python -m elsnet_core.cli bench"
$B ../shared/data/synapse_ct --setting slice --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95 --set ce_class_power=0 --out /work/runs/syn_sl_s0_plain.json --work-dir /work/runs/wd_q5a > /work/runs/syn_sl_s0_plain.log 2>&1
echo done > /work/runs/q5.done
