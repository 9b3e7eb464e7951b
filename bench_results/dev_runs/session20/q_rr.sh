#!/bin/bash
# re-registration from the stage-1 network's organs (--set reregister=true) vs without
cd /work/main
B=".venv/bin/python -m elsnet_core.cli bench"
O="--setting volume --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95"
S=../shared/data/synapse_ct
$B $S --exemplar case_04 $O --set reregister=true --out /work/runs/s20/rr_syn04.json --work-dir /work/runs/s20/rr_syn04_wd > /work/runs/s20/rr_syn04.log 2>&1
$B $S --exemplar case_02 $O --set reregister=true --out /work/runs/s20/rr_syn02.json --work-dir /work/runs/s20/rr_syn02_wd > /work/runs/s20/rr_syn02.log 2>&1
$B $S --exemplar case_02 $O --out /work/runs/s20/base_syn02.json --work-dir /work/runs/s20/base_syn02_wd > /work/runs/s20/base_syn02.log 2>&1
$B $S $O --set reregister=true --out /work/runs/s20/rr_syn00.json --work-dir /work/runs/s20/rr_syn00_wd > /work/runs/s20/rr_syn00.log 2>&1
$B ../shared/data/chaos_mr_t2 $O --set reregister=true --out /work/runs/s20/rr_chaos.json --work-dir /work/runs/s20/rr_chaos_wd > /work/runs/s20/rr_chaos.log 2>&1
$B ../shared/data/acdc_cine $O --set reregister=true --out /work/runs/s20/rr_acdc.json --work-dir /work/runs/s20/rr_acdc_wd > /work/runs/s20/rr_acdc.log 2>&1
