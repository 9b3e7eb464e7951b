# Sourced by gpu_finish.sh and gpu_grid.sh: wait_copy DEADLINE_S waits while any
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
