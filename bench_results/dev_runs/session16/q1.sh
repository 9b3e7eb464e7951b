#!/bin/bash
cd /work/main
B=".venv/bin/python -m elsnet_core.cli bench"
$B ../shared/data/acdc_cine --setting volume --preset fast --threads 2 --methods elsnet --seed 1 --no-hd95 --out /work/runs/acdc_v_s1_def.json --work-dir /work/runs/wd1 > /work/runs/acdc_v_s1_def.log 2>&1
$B ../shared/data/chaos_mr_t2 --setting slice --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95 --out /work/runs/chaos_sl_s0_def.json --work-dir /work/runs/wd2 > /work/runs/chaos_sl_s0_def.log 2>&1
$B ../shared/data/chaos_mr_t2 --setting slice --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95 --set ce_class_power=0 --out /work/runs/chaos_sl_s0_plain.json --work-dir /work/runs/wd3 > /work/runs/chaos_sl_s0_plain.log 2>&1
echo done > /work/runs/q1.done
# q1.sh's third run (CHAOS slice, plain CE) was stopped at its start: session 12's row is that run already.
