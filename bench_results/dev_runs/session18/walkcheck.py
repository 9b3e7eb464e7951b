"""How far the random-walk completion carries each organ of a CHAOS exemplar's protocol slice.

Session 18 record script. Replays ``elsnet_core.completion.complete_label`` on the native grid
(percentile-normalised image; ``fit`` walks its 2.75 mm working grid, so the counts are
indicative) from the slice the protocol's rule picks, and compares it with the expert label.

    python bench_results/dev_runs/session18/walkcheck.py case_03 case_08   # from the repo root
"""

import sys

import nibabel as nib
import numpy as np

sys.path.insert(0, ".")
from elsnet_core.bench import slice_setting_label
from elsnet_core.completion import CompletionSettings, complete_label
from elsnet_core.config import ElsnetConfig

PACK = "../shared/data/chaos_mr_t2"


def main(cases: list[str]) -> None:
    cfg = ElsnetConfig()
    settings = CompletionSettings(beta=cfg.completion_beta, threshold=cfg.completion_threshold)
    for case in cases:
        nii = nib.load(f"{PACK}/images/{case}.nii.gz")
        img = np.asarray(nii.dataobj, np.float32)
        lab = np.asarray(nib.load(f"{PACK}/labels/{case}.nii.gz").dataobj).astype(np.uint8)
        lo, hi = np.percentile(img, [0.5, 99.5])
        img = np.clip((img - lo) / (hi - lo), 0, 1)
        painted, z = slice_setting_label(lab)
        sp = nii.header.get_zooms()
        to_zhw = lambda a: np.transpose(a, (2, 0, 1))  # noqa: E731
        out = complete_label(to_zhw(img), to_zhw(painted), (float(sp[2]), float(sp[0]), float(sp[1])),
                             settings)
        truth = to_zhw(lab)
        print(f"{case}: protocol slice {z}, organ pixels there "
              f"{np.bincount(lab[:, :, z].ravel(), minlength=5)[1:5].tolist()}")
        for c in range(1, 5):
            said = out == c
            tp = int((said & (truth == c)).sum())
            v, n = np.unique(out[truth == c], return_counts=True)
            print(f"  organ {c}: walk labels {int(said.sum())} voxels, precision "
                  f"{tp / max(int(said.sum()), 1):.2f}, recall {tp / max(int((truth == c).sum()), 1):.2f}; "
                  f"the organ's true voxels labelled {dict(zip(v.tolist(), n.tolist(), strict=True))}")


if __name__ == "__main__":
    main(sys.argv[1:])
