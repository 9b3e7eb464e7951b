"""Dev study: how accurate is slice-to-slice propagation of the protocol slice, by distance?

Uses the full expert labels of several exemplar candidates per pack only to MEASURE the
propagated labels (the method never sees them). Native voxel grid, (Z, X, Y) order.
Run: .venv/bin/python bench_results/dev_runs/slice_propagation/study.py [max_mm band demons_iterations]
"""
import json, sys, time
from pathlib import Path
import numpy as np
from elsnet_core.bench import Pack, protocol_split, slice_setting_label
from elsnet_core.losses import IGNORE
from elsnet_core.propagation import PropagationSettings, propagate_slices
from elsnet_core.registration import normalise_intensity

max_mm = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
band = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
iters = int(sys.argv[3]) if len(sys.argv) > 3 else 60
root = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
res = {}
for pack_name in ["chaos_mr_t2", "acdc_cine", "synapse_ct"]:
    pack = Pack.open(root / pack_name)
    cases = sorted(pack.cases)[:4]
    rows = {}
    for case in cases:
        img, sp = pack.image(case)
        gt = pack.label(case)
        lab1, z0 = slice_setting_label(gt)
        t = time.time()
        img_z = np.transpose(normalise_intensity(img), (2, 0, 1))
        gt_z = np.transpose(gt, (2, 0, 1))
        lab_z = np.transpose(lab1, (2, 0, 1))
        prop = propagate_slices(img_z, lab_z, (sp[2], sp[0], sp[1]),
                                PropagationSettings(max_mm=max_mm, band_mm_per_10mm=band, demons_iterations=iters))
        dt = time.time() - t
        for z in range(prop.shape[0]):
            if z == z0 or (prop[z] == IGNORE).all():
                continue
            d = round(abs(z - z0) * sp[2], 1)
            p, g = prop[z], gt_z[z]
            known = p != IGNORE
            dices = []
            for c in range(1, int(gt.max()) + 1):
                a, b = (p == c) & known, (g == c) & known
                if a.sum() + b.sum() > 0:
                    dices.append(2 * (a & b).sum() / (a.sum() + b.sum()))
            acc_fg = float(((p == g) & known & (g > 0)).sum() / max(1, (known & (g > 0)).sum()))
            cov = float((known & (g > 0)).sum() / max(1, (g > 0).sum()))
            rows.setdefault(d, []).append((float(np.mean(dices)) if dices else np.nan, acc_fg, cov))
        print(pack_name, case, "z0", z0, "spacing", [round(float(s), 2) for s in sp], f"{dt:.1f}s", flush=True)
    print(pack_name, "distance_mm: dice_fg_mean  fg_acc_of_kept  fg_coverage  (n exemplars)")
    for d in sorted(rows):
        a = np.array(rows[d], float)
        print(f"  {d:6.1f}: {np.nanmean(a[:,0]):.3f} {np.nanmean(a[:,1]):.3f} {np.nanmean(a[:,2]):.3f} ({len(a)})")
    res[pack_name] = {str(d): np.nanmean(np.array(v, float), axis=0).tolist() for d, v in rows.items()}
out = Path(__file__).with_name(f"study_max{int(max_mm)}_band{band:g}_it{iters}.json")
out.write_text(json.dumps(res, indent=1))
