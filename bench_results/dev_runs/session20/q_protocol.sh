#!/bin/bash
# protocol ELSNet rows on commit b835b18 (reregister on), volume then slice; default --out merges into bench_results/
cd /work/main
for s in volume slice; do
for p in chaos_mr_t2 acdc_cine synapse_ct; do
  .venv/bin/python -m elsnet_core.cli bench ../shared/data/$p --setting $s --preset fast --threads 2 --methods elsnet --seed 0 --work-dir /work/runs/s20/proto_${p}_$s > /work/runs/s20/proto_${p}_$s.log 2>&1
done
done
