#!/bin/bash
# session 21: the protocol elsnet rows (volume) of the current code on an AVX2-only EPYC (fp32), to see what `fast` buys where bf16 is not native
cd /work/main
for p in synapse_ct chaos_mr_t2 acdc_cine; do
  .venv/bin/python -m elsnet_core.cli bench ../shared/data/$p --setting volume --preset fast --threads 2 --methods elsnet --seed 0 --no-hd95 --out /work/runs/s21/avx2_${p}_volume.json --work-dir /work/runs/s21/avx2_${p} > /work/runs/s21/avx2_${p}_volume.log 2>&1
done
