#!/usr/bin/env bash
# Session 9 A/B: organ_scale=1.4 against the preset (1.0), `fast`, volume, protocol exemplar.
# Both arms of one (pack, seed) run side by side, 1 thread each, so they share the machine's
# load; time_budget_s=3000 lets every fit run its planned 700 + 400 steps (the step-based
# schedule), so the comparison is at equal steps rather than equal seconds.
set -u
cd "$(dirname "$0")/../../.."
OUT=bench_results/dev_runs/session9
for seed in ${SEEDS:-0 1}; do
  for pack in ${PACKS:-chaos_mr_t2 acdc_cine synapse_ct}; do
    for v in base:1.0 os14:1.4; do
      name=${v%%:*}; val=${v#*:}
      .venv/bin/python -m elsnet_core.cli bench ../shared/data/$pack --setting volume \
        --preset fast --threads 1 --methods elsnet --no-hd95 --seed $seed \
        --set organ_scale=$val --set time_budget_s=3000 \
        --work-dir bench_results/tmp/s9_${pack}_${name}_s$seed \
        --out $OUT/${pack}_${name}_s$seed.json > $OUT/${pack}_${name}_s$seed.log 2>&1 &
    done
    wait
  done
done
