#!/bin/bash
cd /work/main
B=".venv/bin/python -m elsnet_core.cli bench"
$B ../shared/data/acdc_cine --setting volume --preset fast --threads 2 --methods elsnet --seed 0 --out /work/runs/final_acdc_v.json --work-dir /work/runs/wd_f1 > /work/runs/final_acdc_v.log 2>&1
$B ../shared/data/chaos_mr_t2 --setting volume --preset fast --threads 2 --methods elsnet --seed 0 --out /work/runs/final_chaos_v.json --work-dir /work/runs/wd_f2 > /work/runs/final_chaos_v.log 2>&1
echo done > /work/runs/q6.done
