#!/bin/bash
# A/B of ema_decay=0.99 vs off, fast preset, volume setting, seed 0, protocol exemplar, this machine.
cd "$(dirname "$0")/../../.."  # the repository root
for pack in chaos_mr_t2 acdc_cine synapse_ct; do
  for arm in base ema; do
    extra=""; [ $arm = ema ] && extra="--set ema_decay=0.99"
    .venv/bin/python -m elsnet_core.cli bench ../shared/data/$pack --setting volume --preset fast --threads 2 \
      --methods elsnet --seed 0 --no-hd95 $extra --out bench_results/dev_runs/session22/${pack}_${arm}.json \
      --work-dir "${TMPDIR:-/tmp}/elsnet_ab_${pack}_${arm}" > bench_results/dev_runs/session22/${pack}_${arm}.log 2>&1
    echo "$pack $arm rc=$? $(date +%T)" >> bench_results/dev_runs/session22/ab_ema.progress
  done
done
