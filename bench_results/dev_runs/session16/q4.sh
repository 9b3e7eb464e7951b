#!/bin/bash
cd /work/main
B=".venv/bin/python -m elsnet_core.cli bench"
$B ../shared/data/chaos_mr_t2 --setting slice --preset fast --threads 2 --methods elsnet --seed 1 --no-hd95 --out /work/runs/chaos_sl_s1_def.json --work-dir /work/runs/wd_q4a > /work/runs/chaos_sl_s1_def.log 2>&1
$B ../shared/data/chaos_mr_t2 --setting slice --preset fast --threads 2 --methods elsnet --seed 1 --no-hd95 --set ce_class_power=0 --out /work/runs/chaos_sl_s1_plain.json --work-dir /work/runs/wd_q4b > /work/runs/chaos_sl_s1_plain.log 2>&1
echo done > /work/runs/q4.done
