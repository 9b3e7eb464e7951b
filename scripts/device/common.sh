# Sourced by the scripts/device/gpu_*.sh scripts.
#
# install_deps: puts the nibabel wheel and SimpleITK from .devrun/ into /tmp/site (the device's
# Python has neither) and prints the GPU, torch and library versions the results came from.
install_deps() {
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .devrun/nibabel-*.whl
  tar xJf .devrun/sitk.tar.xz -C /tmp/site
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  PYTHONPATH=/tmp/site:$PWD python3 -c "import torch, SimpleITK, nibabel, numpy, scipy; print('torch', torch.__version__, torch.cuda.get_device_name(), 'sitk', SimpleITK.Version(), 'numpy', numpy.__version__, 'scipy', scipy.__version__)"
}

# wait_copy DEADLINE_S waits while any
# `elsnet_core.cli bench` runs (at most DEADLINE_S seconds of this shell), copying
# /tmp/res/*.json and *.log to $OUT every 5 s, so a call cut at its limit still returns them.
# Prints GPU use every minute meanwhile.
wait_copy() {
  (while true; do sleep 60; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) &
  local mon=$!
  _copy() { for f in /tmp/res/*.json /tmp/res/*.log; do [ -e "$f" ] && cp "$f" "$OUT/"; done; }
  # the bracketed pattern does not match this shell's own command line
  while pgrep -f "[e]lsnet_core.cli bench" > /dev/null && [ "$SECONDS" -lt "$1" ]; do
    sleep 5; _copy
  done
  _copy
  kill "$mon" 2>/dev/null
}
