"""Session 23: post-processing variants on a saved fit (top-2 labels on the original grid).

V0  current predictor (largest / contender component per organ, the rest -> background)
V1  as V0, but a dropped component goes to its voxels' second-choice organ when that organ
    (not background) is the majority second choice of the component; then V0's rule again
NL  no component step at all
Also: where each organ's truth went (confusion) and whether the organ-on-organ errors sit in
a component the current rule drops.
usage: postproc.py PACK_DIR MODEL_DIR [case ...]
"""
import json, sys
from pathlib import Path
import numpy as np, torch
from scipy import ndimage
sys.path.insert(0, "/work/main")
from elsnet_core.bench import Pack, protocol_split
from elsnet_core.predictor import Predictor, infer_probs, largest_component_per_class
from elsnet_core.preprocess import normalize_intensity, WorkingGrid
from elsnet_core.metrics import dice

torch.set_num_threads(2)
pack = Pack.open(Path(sys.argv[1])); p = Predictor.load(sys.argv[2], "cpu")
split = protocol_split(pack.cases, None)
cases = sys.argv[3:] or list(split.test)
cfg, plan = p.cfg, p.plan
K = plan.n_classes
STRUCT = np.ones((3, 3, 3), bool)

def top2(grid, probs, chunk=8):
    x_n, y_n = grid.shape[0], grid.shape[1]; z_n = probs.shape[0]
    l1 = np.zeros((x_n, y_n, z_n), np.uint8); l2 = np.zeros_like(l1)
    for z0, q in grid._resampled(lambda a, b: probs[a:b].float(), z_n, chunk):
        q[:, 0] += (1.0 - q.sum(dim=1)).clamp_min(0.0)
        v, i = q.topk(2, dim=1)
        l1[:, :, z0:z0+chunk] = i[:, 0].permute(1, 2, 0).numpy()
        l2[:, :, z0:z0+chunk] = i[:, 1].permute(1, 2, 0).numpy()
    return l1, l2

def reassign(l1, l2):
    kept = largest_component_per_class(l1, fill=0, contenders=True)
    out = kept.copy()
    dropped = (l1 > 0) & (kept == 0)
    lab, n = ndimage.label(dropped, structure=STRUCT)
    for i, sl in enumerate(ndimage.find_objects(lab), start=1):
        m = lab[sl] == i
        sec = l2[sl][m]
        vals, cnt = np.unique(sec, return_counts=True)
        best = vals[np.argmax(cnt)]
        if best != 0 and cnt.max() > 0.5 * m.sum():
            out[sl][m] = best
    return largest_component_per_class(out, fill=0, contenders=True)

res = {"V0": {}, "V1": {}, "NL": {}}
conf = np.zeros((K, K)); dropped_err = np.zeros((K, K))
for case in cases:
    img = np.asarray(__import__("nibabel").load(str(pack.image_path(case))).dataobj, np.float32)
    aff = __import__("nibabel").load(str(pack.image_path(case))).affine
    truth = pack.label(case)
    norm = normalize_intensity(img, plan.modality, cfg.ct_window, cfg.mr_percentiles)
    grid = WorkingGrid.plan(aff, norm.shape, norm, cfg.size, plan.pixel_mm, (plan.offset_mm[0], plan.offset_mm[1]))
    probs = infer_probs(p.model, grid.to_working(norm), cfg.context, p.device, tta=cfg.tta, amp=cfg.amp)
    l1, l2 = top2(grid, probs)
    v0 = largest_component_per_class(l1, contenders=True)
    v1 = reassign(l1, l2)
    for name, lab in (("V0", v0), ("V1", v1), ("NL", l1)):
        res[name][case] = {c: dice(lab == c, truth == c) for c in range(1, K)}
    conf += np.histogram2d(truth.ravel(), v0.ravel(), bins=[np.arange(K + 1)] * 2)[0]
    dropped_err += np.histogram2d(truth[(l1 > 0) & (v0 == 0)].ravel(), l1[(l1 > 0) & (v0 == 0)].ravel(), bins=[np.arange(K + 1)] * 2)[0]
    print(case, {n: [round(res[n][case][c] or 0, 3) for c in range(1, K)] for n in res}, flush=True)

names = [pack.classes.get(c, str(c)) for c in range(1, K)]
for n in res:
    per = [np.mean([res[n][cs][c] or 0 for cs in cases]) for c in range(1, K)]
    print(n, "mean %.4f" % np.mean(per), dict(zip(names, np.round(per, 3))))
np.set_printoptions(precision=3, suppress=True, linewidth=150)
print("truth row -> V0 label col (fraction of truth):\n", conf / conf.sum(1, keepdims=True))
print("voxels V0 drops: truth row -> raw label col (counts):\n", dropped_err.astype(int))
