import sys, json, numpy as np, nibabel as nib
from pathlib import Path
from elsnet_core.baselines import atlas_propagation
pack = Path(sys.argv[1]); ds = json.load(open(pack/'dataset.json'))
cases = sorted(ds['cases']); names = ds['labels']
def load(c, kind):
    im = nib.load(pack/kind/f'{c}.nii.gz'); return np.asarray(im.dataobj).astype(np.float32), im.header.get_zooms()[:3]
ex, sp = load(cases[0], 'images'); exl, _ = load(cases[0], 'labels'); exl = exl.astype(np.uint8)
vox = np.prod(sp)/1000
print('exemplar', {names[str(c)] if isinstance(names,dict) else c: round(float((exl==c).sum()*vox)) for c in range(1, int(exl.max())+1)})
for c in cases[1:]:
    im, s = load(c, 'images'); lab, _ = load(c, 'labels'); lab = lab.astype(np.uint8)
    p = atlas_propagation(ex, exl, sp, im, s).deformable
    v = np.prod(s)/1000
    print(c, [(round(float((lab==k).sum()*v)), round(float((p==k).sum()*v))) for k in range(1, int(exl.max())+1)])
