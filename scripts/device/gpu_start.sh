#!/usr/bin/env bash
# GPU benchmark, part 1 of 2 (run on a lent GPU machine from the repo root; see
# scripts/device/README.md). Installs SimpleITK + nibabel from .devrun/, unpacks chaos_mr_t2,
# optionally (SMOKE=1) runs a tiny-preset CUDA smoke benchmark in the foreground, then starts
# the full-preset chaos benchmark in its own session so it keeps running after this call.
set -euo pipefail
export PYTHONUNBUFFERED=1
TB=${TB:-330}
THREADS=${THREADS:-4}
mkdir -p /tmp/site /tmp/data /tmp/res
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .devrun/nibabel-*.whl
tar xJf .devrun/sitk.tar.xz -C /tmp/site
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, SimpleITK, nibabel, numpy, scipy; print('torch', torch.__version__, torch.cuda.get_device_name(), 'sitk', SimpleITK.Version(), 'numpy', numpy.__version__, 'scipy', scipy.__version__)"
python3 scripts/device/packdata.py unpack .devrun/chaos.tar.xz /tmp/data
if [ "${SMOKE:-0}" = 1 ]; then
  python3 -m elsnet_core.cli bench /tmp/data/chaos_mr_t2 --preset tiny --device cuda --threads 8 \
    --set time_budget_s=20 --no-hd95 --out /tmp/res/smoke_tiny.json --work-dir /tmp/work_smoke 2>&1 | tail -25
  cp /tmp/res/smoke_tiny.json "${OUT:-/tmp}/" || true
fi
setsid nohup python3 -m elsnet_core.cli bench /tmp/data/chaos_mr_t2 --preset full --device cuda \
  --threads "$THREADS" --set time_budget_s=$TB --out /tmp/res/chaos_mr_t2_volume_full.json \
  --work-dir /tmp/work_chaos > /tmp/res/chaos_full.log 2>&1 < /dev/null &
sleep 15; tail -5 /tmp/res/chaos_full.log; echo started
