#!/bin/bash
cd /work/main
while [ ! -f /work/runs/q2.done ]; do sleep 5; done
B=".venv/bin/python -m elsnet_core.cli bench"
$B ../shared/data/acdc_cine --setting volume --preset fast --threads 2 --methods elsnet --seed 1 --no-hd95 --set ce_class_power=0 --out /work/runs/acdc_v_s1_plain.json --work-dir /work/runs/wd_acdc_v_s1_plain > /work/runs/acdc_v_s1_plain.log 2>&1
echo done > /work/runs/q3.done
