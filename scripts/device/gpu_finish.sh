#!/usr/bin/env bash
# GPU benchmark, part 2 of 2, on the same warm machine right after gpu_start.sh: unpacks
# ARCHIVE, runs the full-preset benchmark of every pack in PACKS beside the ones already
# running, plus (CONTROL="KEY=VALUE ...", optional) a CONTROL_PACK run with those overrides
# as a same-machine control; waits for all (at most DEADLINE seconds), copying results and
# logs to $OUT as they come so a call cut at its limit still returns them.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD
ARCHIVE=${ARCHIVE:-.devrun2/rest.tar.xz}
PACKS=${PACKS:-acdc_cine synapse_ct}
THREADS=${THREADS:-4}
budget=(); [ -n "${TB:-}" ] && budget=(--set "time_budget_s=$TB")
python3 scripts/device/packdata.py unpack "$ARCHIVE" /tmp/data
for p in $PACKS; do
  python3 -m elsnet_core.cli bench /tmp/data/$p --preset full --device cuda --threads "$THREADS" \
    "${budget[@]}" ${EXTRA:-} --out /tmp/res/${p}_volume_full.json --work-dir /tmp/work_$p \
    > /tmp/res/${p}_full.log 2>&1 &
done
if [ -n "${CONTROL:-}" ]; then
  cp=${CONTROL_PACK:-synapse_ct}
  sets=(); for kv in $CONTROL; do sets+=(--set "$kv"); done
  python3 -m elsnet_core.cli bench /tmp/data/$cp --preset full --device cuda \
    --threads "$THREADS" "${budget[@]}" "${sets[@]}" --no-hd95 \
    --out /tmp/res/${cp}_volume_full_control.json --work-dir /tmp/work_control \
    > /tmp/res/${cp}_full_control.log 2>&1 &
fi
source scripts/device/common.sh
wait_copy "${DEADLINE:-550}"
for f in /tmp/res/*.log; do echo "== $f"; grep -vE "iteration [0-9]+/|pseudo-labelled study" "$f" | tail -22; done
