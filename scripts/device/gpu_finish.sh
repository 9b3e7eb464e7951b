#!/usr/bin/env bash
# GPU benchmark, part 2 of 2, on the same warm machine right after gpu_start.sh: unpacks
# acdc_cine + synapse_ct from .devrun2/, runs their full-preset benchmarks beside the chaos
# one already running, plus (CONTROL="KEY=VALUE ...", optional) synapse_ct with those
# overrides as a same-machine control; waits for all and copies results and logs to $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD
TB=${TB:-330}
THREADS=${THREADS:-4}
python3 scripts/device/packdata.py unpack .devrun2/rest.tar.xz /tmp/data
for p in acdc_cine synapse_ct; do
  python3 -m elsnet_core.cli bench /tmp/data/$p --preset full --device cuda --threads "$THREADS" \
    --set time_budget_s=$TB --out /tmp/res/${p}_volume_full.json --work-dir /tmp/work_$p \
    > /tmp/res/${p}_full.log 2>&1 &
done
if [ -n "${CONTROL:-}" ]; then
  sets=(); for kv in $CONTROL; do sets+=(--set "$kv"); done
  python3 -m elsnet_core.cli bench /tmp/data/synapse_ct --preset full --device cuda \
    --threads "$THREADS" --set time_budget_s=$TB "${sets[@]}" --no-hd95 \
    --out /tmp/res/synapse_ct_volume_full_control.json --work-dir /tmp/work_control \
    > /tmp/res/synapse_ct_full_control.log 2>&1 &
fi
(while true; do sleep 60; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) &
# stop waiting at DEADLINE seconds so the results so far still come back inside the call
while pgrep -f "elsnet_core.cli bench" > /dev/null && [ "$SECONDS" -lt "${DEADLINE:-550}" ]; do sleep 5; done
for f in /tmp/res/*.json /tmp/res/*.log; do cp "$f" "$OUT/"; done
for f in /tmp/res/*.log; do echo "== $f"; grep -vE "iteration [0-9]+/|pseudo-labelled study" "$f" | tail -22; done
