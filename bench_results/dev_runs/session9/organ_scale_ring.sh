#!/usr/bin/env bash
# Session 9: organ_scale=1.4 with the organ radius taken from its spread about the centroid
# (rings such as the myocardium by their outer size; commit after 3dd8c64), against the same
# base runs as organ_scale_ab.sh (same conditions: 1 thread each, two fits side by side,
# time_budget_s=3000, all 700 + 400 steps).
set -u
cd "$(dirname "$0")/../../.."
OUT=bench_results/dev_runs/session9
for pack in ${PACKS:-acdc_cine}; do
  for seed in ${SEEDS:-0 1}; do
    .venv/bin/python -m elsnet_core.cli bench ../shared/data/$pack --setting volume \
      --preset fast --threads 1 --methods elsnet --no-hd95 --seed $seed \
      --set organ_scale=1.4 --set time_budget_s=3000 \
      --work-dir bench_results/tmp/s9_${pack}_os14ring_s$seed \
      --out $OUT/${pack}_os14ring_s$seed.json > $OUT/${pack}_os14ring_s$seed.log 2>&1 &
  done
  wait
done
