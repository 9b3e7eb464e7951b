import sys
from pathlib import Path
import numpy as np, nibabel as nib
from PIL import Image
from elsnet_core import Predictor
pack = Path(sys.argv[1]); model = sys.argv[2]; case = sys.argv[3]; out = sys.argv[4]
zs = [int(z) for z in sys.argv[5].split(",")]
pred = Predictor.load(model, device="cpu")
img = np.asarray(nib.load(pack / "images" / f"{case}.nii.gz").dataobj).astype(np.float32)
p = pred.predict_file(pack / "images" / f"{case}.nii.gz").labels
t = np.asarray(nib.load(pack / "labels" / f"{case}.nii.gz").dataobj)
lo, hi = np.percentile(img, [1, 99.5]); g = np.clip((img - lo) / (hi - lo), 0, 1)
pal = np.array([[0,0,0],[230,60,60],[60,200,60],[60,120,255],[240,200,40],[200,60,220],[40,220,220],[255,140,0],[150,75,0],[255,255,255],[128,128,0],[0,128,128],[128,0,128],[90,160,90]], float)
rows = []
for lab in (t, p):
    tiles = []
    for z in zs:
        gi = np.rot90(g[:, :, z]); li = np.rot90(lab[:, :, z]).astype(int)
        rgb = np.repeat(gi[..., None] * 255, 3, axis=2)
        m = li > 0
        rgb[m] = 0.5 * rgb[m] + 0.5 * pal[li[m] % len(pal)]
        tiles.append(rgb)
    rows.append(np.concatenate(tiles, axis=1))
Image.fromarray(np.concatenate(rows, axis=0).astype(np.uint8)).save(out)
