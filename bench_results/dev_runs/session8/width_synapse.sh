#!/usr/bin/env bash
# Session 8: fast on synapse_ct (volume, protocol exemplar) with the preset's widths 8..128
# and with 16..256, seeds 0 and 1, one at a time on this idle 2-vCPU CPU (bf16, AMX).
cd "$(dirname "$0")/../../.."
D=bench_results/dev_runs/session8
for s in 0 1; do
  for w in base w16; do
    sets=(); [ $w = w16 ] && sets=(--set "widths=[16,32,64,128,256]")
    .venv/bin/python -m elsnet_core.cli bench ../shared/data/synapse_ct --preset fast --threads 2 \
      --seed $s --no-hd95 "${sets[@]}" --out $D/synapse_fast_${w}_s$s.json \
      --work-dir /tmp/w8_${w}_$s > $D/synapse_fast_${w}_s$s.log 2>&1
  done
done
