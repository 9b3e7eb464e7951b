"""Session 16: copy this session's `elsnet` rows (the `fast` preset as it now is: class-balanced
CE in stage 1 for organs at least 2x smaller than the mean organ) into the protocol JSONs.

All runs on this session's 2-vCPU AMD EPYC with AVX-512 and native bf16 (device `cpu (bf16)`),
one at a time on an idle machine, seed 0, commit c74494b. The CHAOS rows ran with --no-hd95;
their HD95 was computed afterwards from the same saved model (posthoc_hd95.py, which checks
every case's Dice against the run's first; `hd95_note` in the row). Each copied row is marked
with `copied_from`; every other row stays as it was. Run from the repository root.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
from copy_bench_rows import copy_rows

D = Path("bench_results/dev_runs/session16")
SOURCES = {
    ("chaos_mr_t2", "volume"): D / "chaos_v_s0_def.json",
    ("chaos_mr_t2", "slice"): D / "chaos_sl_s0_def.json",
    ("acdc_cine", "volume"): D / "acdc_v_s0_def.json",
    ("acdc_cine", "slice"): D / "acdc_sl_s0_def.json",
    ("synapse_ct", "volume"): D / "syn_v_s0_def.json",
    ("synapse_ct", "slice"): D / "syn_sl_s0_def.json",
}
copy_rows(SOURCES, methods=["elsnet"])
