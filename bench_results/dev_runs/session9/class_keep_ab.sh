#!/usr/bin/env bash
# Session 9: class-balanced pseudo-labels (pseudo_class_keep=0.5) against the base runs of
# organ_scale_ab.sh (same conditions: `fast`, volume, 1 thread each, two fits side by side,
# time_budget_s=3000 so every fit runs its 700 + 400 steps). Seeds 0 and 1 run together.
set -u
cd "$(dirname "$0")/../../.."
OUT=bench_results/dev_runs/session9
for pack in ${PACKS:-chaos_mr_t2 acdc_cine synapse_ct}; do
  for seed in ${SEEDS:-0 1}; do
    .venv/bin/python -m elsnet_core.cli bench ../shared/data/$pack --setting volume \
      --preset fast --threads 1 --methods elsnet --no-hd95 --seed $seed \
      --set pseudo_class_keep=0.5 --set time_budget_s=3000 \
      --work-dir bench_results/tmp/s9_${pack}_ck50_s$seed \
      --out $OUT/${pack}_ck50_s$seed.json > $OUT/${pack}_ck50_s$seed.log 2>&1 &
  done
  wait
done
