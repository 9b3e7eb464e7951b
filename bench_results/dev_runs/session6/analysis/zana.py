"""Where do slice-setting errors sit along z? per organ: Dice, FP voxels outside the GT z-extent."""
import sys, json, numpy as np, nibabel as nib
from pathlib import Path
from elsnet_core.predictor import Predictor
pack = Path(sys.argv[1]); model = sys.argv[2]
ds = json.load(open(pack/"dataset.json"))
cases = sorted(ds["cases"]); names = ds.get("labels") or ds.get("classes")
print(names)
pred = Predictor.load(model, "cpu")
tot = {}
for case in cases[1:]:
    img = next((pack/"images").glob(case+"*")); lab = next((pack/"labels").glob(case+"*"))
    p = pred.predict_file(img).labels
    g = np.asarray(nib.load(lab).dataobj).astype(int)
    out=[]
    for c in sorted(set(np.unique(g))-{0}):
        gz = np.where((g==c).any((0,1)))[0]; pz = np.where((p==c).any((0,1)))[0]
        inside = np.zeros(g.shape[2],bool); inside[gz.min():gz.max()+1]=True
        pc = p==c; gc = g==c
        d = 2*(pc&gc).sum()/(pc.sum()+gc.sum()+1e-9)
        fp_out = pc[:,:,~inside].sum(); fp_in = (pc&~gc)[:,:,inside].sum(); fn = (gc&~pc).sum()
        # dice if FP outside GT z-extent removed
        d2 = 2*(pc&gc).sum()/(pc[:,:,inside].sum()+gc.sum()+1e-9)
        out.append(f"{c}:D{d:.2f}/zcut{d2:.2f} gz{gz.min()}-{gz.max()} pz{pz.min() if len(pz) else -1}-{pz.max() if len(pz) else -1} fpout{fp_out} fpin{fp_in} fn{fn} tp{(pc&gc).sum()}")
        tot.setdefault(c,[]).append((d,d2))
    print(case, g.shape, " | ".join(out), flush=True)
for c,v in tot.items(): print(c, np.mean([a for a,b in v]).round(3), np.mean([b for a,b in v]).round(3))
