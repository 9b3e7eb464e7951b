"""Variants of the label-free exemplar score, judged by the atlas quality of the study each picks
(pairs_*.jsonl from pairs.py) -- mean vs median over partners, thumbnail vs registration NCC,
and registration to only k random partners (what a large cohort could afford)."""
import json, sys
from collections import defaultdict
from pathlib import Path
import numpy as np
from scipy.stats import spearmanr
sys.path.insert(0, str(Path(__file__).parent))
from elsnet_core.io import load_volume  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from elsnet_core.io import Volume  # noqa: E402
from elsnet_core.preprocess import WorkingGrid, detect_modality, normalize_intensity  # noqa: E402


# the first rule's descriptor (elsnet_core/exemplar.py before session 24), kept to reproduce it
def thumbnail(volume: Volume, modality: str | None = None, size: int = 32, depth: int = 16,
              pixel_mm: float = 12.0) -> np.ndarray:
    """Coarse body-centred descriptor: (depth, size, size) float32 in [0, 1].

    In-plane: ``size`` pixels of ``pixel_mm`` around the body centre (working axes);
    along the slice axis: ``depth`` samples spread over the whole study.
    """
    mod = modality or detect_modality(volume.array)
    norm = normalize_intensity(volume.array, mod)
    grid = WorkingGrid.plan(volume.affine, volume.shape, norm, size, pixel_mm)
    work = torch.from_numpy(grid.to_working(norm))[None, None]  # (1, 1, Z, S, S)
    out = F.interpolate(work, size=(depth, size, size), mode="trilinear", align_corners=True)
    return out[0, 0].numpy()

DATA = Path("../shared/data")

def organ_mean(r):
    """Mean foreground Dice of one registered pair (pairs.py also wrote background)."""
    return float(np.mean([v for k, v in r["dice"].items() if k != "0" and v is not None]))

HERE = Path(__file__).parent
for pack, fn in [("chaos_mr_t2", "pairs_chaos.jsonl"), ("acdc_cine", "pairs_acdc.jsonl"), ("synapse_ct", "pairs_synapse.jsonl")]:
    if not (HERE / fn).exists():
        continue
    rows = [json.loads(l) for l in (HERE / fn).read_text().splitlines()]
    by_a = defaultdict(dict)
    for r in rows:
        by_a[r["a"]][r["b"]] = r
    cands = sorted(by_a)
    quality = {c: np.mean([organ_mean(r) for r in by_a[c].values()]) for c in cands}
    # thumbnails of every study of the pack (candidates' partners = every study they were registered to)
    cases = sorted(json.loads((DATA / pack / "dataset.json").read_text())["cases"])
    vols = {c: load_volume(DATA / pack / "images" / f"{c}.nii.gz") for c in cases}
    mod = detect_modality(vols[cases[0]].array)
    th = {c: thumbnail(v, mod).reshape(-1) for c, v in vols.items()}
    th = {c: (t - t.mean()) / (np.linalg.norm(t - t.mean()) + 1e-8) for c, t in th.items()}
    def thumb(c, agg):
        return agg([float(th[c] @ th[b]) for b in cases if b != c])
    scores = {
        "thumbnail mean (now)": {c: thumb(c, np.mean) for c in cands},
        "thumbnail median": {c: thumb(c, np.median) for c in cands},
        "registered NCC mean": {c: np.mean([r["ncc"] for r in by_a[c].values()]) for c in cands},
        "registered NCC median": {c: np.median([r["ncc"] for r in by_a[c].values()]) for c in cands},
    }
    q = np.array([quality[c] for c in cands])
    print(f"## {pack}: {len(cands)} candidates; atlas quality median {np.median(q):.3f}, best {q.max():.3f}, worst {q.min():.3f}")
    for name, s in scores.items():
        pick = max(cands, key=lambda c: s[c])
        worst_of_top3 = min(quality[c] for c in sorted(cands, key=lambda c: -s[c])[:3])
        print(f"  {name:24s} rho {spearmanr([s[c] for c in cands], q)[0]:+.2f}  pick {pick} {quality[pick]:.3f}  (worst of its top 3 {worst_of_top3:.3f})")
    rng = np.random.default_rng(0)
    for k in (3, 5):
        picks = []
        for _ in range(200):
            s = {}
            for c in cands:
                partners = list(by_a[c])
                sel = rng.choice(len(partners), size=min(k, len(partners)), replace=False)
                s[c] = np.mean([by_a[c][partners[i]]["ncc"] for i in sel])
            picks.append(quality[max(cands, key=lambda c: s[c])])
        print(f"  registered NCC, {k} random partners: picked quality mean {np.mean(picks):.3f} (p10 {np.percentile(picks, 10):.3f}); random pick {q.mean():.3f}")
