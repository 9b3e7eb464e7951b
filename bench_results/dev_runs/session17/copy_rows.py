"""Session 17: copy this session's baseline and ablation rows into the protocol JSONs.

Every `fast` `unet_standard_aug` and `elsnet_no_*` row of the volume setting (all three
packs) and of the slice setting (all three packs) was re-run on the current code, so
each ablation sits beside an `elsnet` row of the same computation, machine kind and seed
(session 16's `elsnet` rows: commit c74494b; the code between c74494b and these runs changed
a comment, the shared resampling loop - identical Dice to every digit, session 16 - and the
slice-setting U-Net baseline, which now trains the painted slice without the random-walk
completion). All on this session's 2-vCPU AMD EPYC with AVX-512 and native bf16 (device
`cpu (bf16)`), one run at a time on an idle machine, seed 0. Each copied row is marked with
`copied_from`; every other row stays as it was. Run from the repository root.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
from copy_bench_rows import copy_rows

D = Path("bench_results/dev_runs/session17")
SOURCES = {
    ("chaos_mr_t2", "volume"): D / "chaos_v_abl.json",
    ("acdc_cine", "volume"): D / "acdc_v_abl.json",
    ("synapse_ct", "volume"): D / "syn_v_abl.json",
    ("acdc_cine", "slice"): D / "acdc_sl_abl.json",
    ("chaos_mr_t2", "slice"): D / "chaos_sl_abl.json",
    ("synapse_ct", "slice"): D / "syn_sl_abl.json",
}
copy_rows(SOURCES)
