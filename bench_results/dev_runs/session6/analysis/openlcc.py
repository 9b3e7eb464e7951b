import sys, numpy as np, nibabel as nib, json
from pathlib import Path
from scipy import ndimage
from elsnet_core.predictor import Predictor, predict_volume, largest_component_per_class
from elsnet_core.io import load_volume
pack=Path(sys.argv[1]); P=Predictor.load(sys.argv[2],"cpu")
cases=sorted(json.load(open(pack/"dataset.json"))["cases"])
radii=[0,4,8,12]
res={r:[] for r in radii}
def dice(a,b):
    s=a.sum()+b.sum(); return 2*(a&b).sum()/s if s else None
for case in cases[1:]:
    v=load_volume(next((pack/"images").glob(case+"*")))
    g=np.asarray(nib.load(next((pack/"labels").glob(case+"*"))).dataobj).astype(int)
    pr,_=predict_volume(P.model,P.cfg,P.plan,v.array,v.affine,P.device,lcc=False)
    raw=pr.labels; sp=v.spacing
    for r in radii:
        out=np.zeros_like(raw)
        for c in range(1,raw.max()+1):
            m=raw==c
            if r:
                rx,ry=max(1,round(r/sp[0])),max(1,round(r/sp[1]))
                yy,xx=np.mgrid[-rx:rx+1,-ry:ry+1]; disk=((yy/rx)**2+(xx/ry)**2)<=1
                st=disk[:,:,None]
                op=ndimage.binary_opening(m,st)
                if op.sum()>0.2*m.sum():
                    lab,n=ndimage.label(op,np.ones((3,3,3)))
                    if n>1:
                        k=np.argmax(np.bincount(lab.ravel())[1:])+1; op=lab==k
                    m=m&ndimage.binary_dilation(op,st)
            lab,n=ndimage.label(m,np.ones((3,3,3)))
            if n>1: k=np.argmax(np.bincount(lab.ravel())[1:])+1; m=lab==k
            out[m]=c
        res[r].append([dice(out==c,g==c) for c in range(1,g.max()+1)])
for r in radii:
    a=np.array([[x if x is not None else np.nan for x in row] for row in res[r]],float)
    print(r, np.nanmean(a,0).round(3), np.nanmean(np.nanmean(a,0)).round(3))
