#!/usr/bin/env bash
# Session 8: fast on synapse_ct, slice setting, seed 0, widths 16..256 (session 5's run of the
# preset on the same kind of CPU: bench_results/dev_runs/self_training/synapse_slice_r1.json).
cd "$(dirname "$0")/../../.."
D=bench_results/dev_runs/session8
.venv/bin/python -m elsnet_core.cli bench ../shared/data/synapse_ct --setting slice --preset fast \
  --threads 2 --seed 0 --no-hd95 --set "widths=[16,32,64,128,256]" \
  --out $D/synapse_slice_fast_w16_s0.json --work-dir /tmp/w8_slice > $D/synapse_slice_fast_w16_s0.log 2>&1
