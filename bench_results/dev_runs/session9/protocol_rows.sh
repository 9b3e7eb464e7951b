#!/usr/bin/env bash
# Session 9: the `elsnet` protocol rows re-run with the final code (pseudo_class_keep=0.5 as
# the preset default), one benchmark at a time on the idle machine, 2 threads, HD95 on.
# Copied into the protocol JSONs afterwards (`copied_from` names the file).
set -u
cd "$(dirname "$0")/../../.."
OUT=bench_results/dev_runs/session9
for setting in ${SETTINGS:-volume slice}; do
  for pack in ${PACKS:-chaos_mr_t2 acdc_cine synapse_ct}; do
    .venv/bin/python -m elsnet_core.cli bench ../shared/data/$pack --setting $setting \
      --preset fast --threads 2 --methods elsnet --seed 0 \
      --work-dir bench_results/tmp/s9_protocol_${pack}_$setting \
      --out $OUT/protocol_${pack}_$setting.json > $OUT/protocol_${pack}_$setting.log 2>&1
  done
done
