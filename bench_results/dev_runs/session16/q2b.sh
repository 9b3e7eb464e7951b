#!/bin/bash
cd /work/main
while [ ! -f /work/runs/chaos_v_s0_def.json ]; do sleep 5; done
while pgrep -f "wd_chaos_v_s0_def" > /dev/null; do sleep 5; done
B=".venv/bin/python -m elsnet_core.cli bench"
run() { pack=$1; set=$2; name=$3; $B ../shared/data/$pack --setting $set --preset fast --threads 2 --methods elsnet --seed 0 --out /work/runs/$name.json --work-dir /work/runs/wd_$name > /work/runs/$name.log 2>&1; }
run acdc_cine slice acdc_sl_s0_def
run acdc_cine volume acdc_v_s0_def
run synapse_ct volume syn_v_s0_def
run synapse_ct slice syn_sl_s0_def
echo done > /work/runs/q2.done
