#!/bin/bash
# Session 24, end: the one-shot protocol (volume setting, `fast`, seed 0, protocol exemplar,
# defaults of the preset, no HD95), run alone after the newcomer `make test` finished.
cd /work/main
R=bench_results/dev_runs/session24
W=/work/runs/s24
while ! grep -q "^real" /work/runs/nc_test.log 2>/dev/null; do sleep 5; done
for pack in chaos_mr_t2 acdc_cine synapse_ct; do
  .venv/bin/python -m elsnet_core.cli bench ../shared/data/$pack --setting volume --preset fast --threads 2 --seed 0 \
    --methods elsnet --no-hd95 --out $R/${pack}_protocol.json --work-dir $W/wd_protocol_$pack > $W/${pack}_protocol.log 2>&1
done
echo done > $W/q3.done
