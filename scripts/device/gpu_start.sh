#!/usr/bin/env bash
# GPU benchmark, part 1 of 2 (run on a lent GPU machine from the repo root; see
# scripts/device/README.md). Installs SimpleITK + nibabel from .devrun/, unpacks ARCHIVE,
# optionally (SMOKE=1) runs a tiny-preset CUDA smoke benchmark in the foreground, then starts
# the full-preset benchmark of every pack in PACKS in its own session, so it keeps running
# after this call.
set -euo pipefail
export PYTHONUNBUFFERED=1
ARCHIVE=${ARCHIVE:-.devrun/chaos.tar.xz}
PACKS=${PACKS:-chaos_mr_t2}
THREADS=${THREADS:-4}
# TB unset = the preset's own time budget
budget=(); [ -n "${TB:-}" ] && budget=(--set "time_budget_s=$TB")
mkdir -p /tmp/site /tmp/data /tmp/res
source scripts/device/common.sh
install_deps
export PYTHONPATH=/tmp/site:$PWD
python3 scripts/device/packdata.py unpack "$ARCHIVE" /tmp/data
if [ "${SMOKE:-0}" = 1 ]; then
  python3 -m elsnet_core.cli bench /tmp/data/chaos_mr_t2 --preset tiny --device cuda --threads 8 \
    --set time_budget_s=20 --no-hd95 --out /tmp/res/smoke_tiny.json --work-dir /tmp/work_smoke 2>&1 | tail -25
  cp /tmp/res/smoke_tiny.json "${OUT:-/tmp}/" || true
fi
for p in $PACKS; do
  setsid nohup python3 -m elsnet_core.cli bench /tmp/data/$p --preset full --device cuda \
    --threads "$THREADS" "${budget[@]}" --out /tmp/res/${p}_volume_full.json \
    --work-dir /tmp/work_$p > /tmp/res/${p}_full.log 2>&1 < /dev/null &
done
sleep 15; tail -n 3 /tmp/res/*.log; echo started
