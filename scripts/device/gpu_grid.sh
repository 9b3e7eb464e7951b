#!/usr/bin/env bash
# A grid of benchmark fits side by side on one lent GPU machine (see scripts/device/README.md):
# every pack in PACKS x every variant in VARIANTS x every seed in SEEDS, one `elsnet bench`
# process each (preset PRESET, --no-hd95), all sharing the card and the 16 CPU cores.
#
#   MODE=start  installs SimpleITK + nibabel from .devrun/, unpacks ARCHIVE, starts its fits
#               in their own sessions (they outlive the call) and returns.
#   MODE=finish (the next call, on the same warm machine) unpacks ARCHIVE, starts its fits,
#               then waits for every fit (at most DEADLINE seconds), copying JSONs and logs
#               to $OUT as they come, so a call cut at its limit still returns them.
#
# VARIANTS: space-separated NAME or NAME:KEY=VALUE,KEY=VALUE (config overrides); e.g.
#   VARIANTS="base ctx2:context=2"
set -uo pipefail
export PYTHONUNBUFFERED=1
MODE=${MODE:-start}
PRESET=${PRESET:-fast}
THREADS=${THREADS:-1}
SEEDS=${SEEDS:-0 1}
VARIANTS=${VARIANTS:-base}
budget=(); [ -n "${TB:-}" ] && budget=(--set "time_budget_s=$TB")
mkdir -p /tmp/site /tmp/data /tmp/res
export PYTHONPATH=/tmp/site:$PWD
source scripts/device/common.sh
[ "$MODE" = start ] && install_deps
python3 scripts/device/packdata.py unpack "$ARCHIVE" /tmp/data
for p in $PACKS; do
  for v in $VARIANTS; do
    name=${v%%:*}; sets=()
    if [ "$name" != "$v" ]; then
      IFS=, read -ra kvs <<< "${v#*:}"; for kv in "${kvs[@]}"; do sets+=(--set "$kv"); done
    fi
    for s in $SEEDS; do
      tag=${p}_${PRESET}_${name}_s$s
      setsid nohup python3 -m elsnet_core.cli bench /tmp/data/$p --preset "$PRESET" \
        --device "${DEVICE:-cuda}" --threads "$THREADS" --seed "$s" "${budget[@]}" "${sets[@]}" --no-hd95 \
        --out /tmp/res/$tag.json --work-dir /tmp/work_$tag > /tmp/res/$tag.log 2>&1 < /dev/null &
    done
  done
done
if [ "$MODE" = start ]; then
  sleep 10; tail -qn 1 /tmp/res/*.log; echo started; exit 0
fi
wait_copy "${DEADLINE:-480}"
ls /tmp/res/*.json 2>/dev/null | wc -l
for f in /tmp/res/*.log; do echo "== $f"; grep -E "mean|fit_seconds|Error|error" "$f" | tail -4; done
