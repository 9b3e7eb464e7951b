"""Side-by-side PNG of a few slices: image, truth, prediction (CHAOS colours).
Usage: python overlay.py PACK MODEL_DIR CASE OUT.png Z1 Z2 ..."""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from elsnet_core.bench import Pack
from elsnet_core.predictor import Predictor

pack, case, out = Pack.open(Path(sys.argv[1])), sys.argv[3], sys.argv[4]
zs = [int(z) for z in sys.argv[5:]]
img, _ = pack.image(case)
gt = pack.label(case)
pred = Predictor.load(sys.argv[2], "cpu").predict_file(pack.image_path(case)).labels
lo, hi = np.percentile(img, [0.5, 99.5])
col = np.array([[0, 0, 0], [230, 80, 80], [80, 200, 80], [80, 120, 240], [240, 200, 60]] + [[200, 200, 200]] * 20)
rows = []
for z in zs:
    g = np.clip((img[:, :, z] - lo) / (hi - lo), 0, 1)[..., None] * 255
    tiles = [g.repeat(3, -1)]
    for lab in (gt[:, :, z], pred[:, :, z]):
        t = g.repeat(3, -1).copy()
        m = lab > 0
        t[m] = 0.5 * t[m] + 0.5 * col[lab[m]]
        tiles.append(t)
    rows.append(np.concatenate([np.rot90(t) for t in tiles], 1))
Image.fromarray(np.concatenate(rows, 0).astype(np.uint8)).save(out)
