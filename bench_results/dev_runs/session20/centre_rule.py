# Session 20: tried, not adopted (see docs/benchmarks.md, Session 20).
"""How far (mm) the working window centre lands from the organs' centre: body-box centre vs
body centroid, with the offset taken from the exemplar (cases[0]) the same way."""
import sys, json, numpy as np, nibabel as nib
sys.path.insert(0,'/work/main')
from elsnet_core.io import load_volume
from elsnet_core.preprocess import InPlaneFrame, body_mask, normalize_intensity, detect_modality
P=sys.argv[1]; cases=sorted(json.load(open(f'{P}/dataset.json'))['cases'])
def stats(c):
    v=load_volume(f'{P}/images/{c}.nii.gz'); t=np.asarray(nib.load(f'{P}/labels/{c}.nii.gz').dataobj)
    mod=detect_modality(v.array); n=normalize_intensity(v.array,mod)
    fr=InPlaneFrame.from_affine(v.affine); b=body_mask(n)
    uv=fr.to_mm(np.argwhere(b)); box=(uv.min(0)+uv.max(0))/2; cen=uv.mean(0)
    org=((t>0)&(t<255)).any(axis=2); ouv=fr.to_mm(np.argwhere(org)); obox=(ouv.min(0)+ouv.max(0))/2
    # organ centre for scoring: centroid of organ voxels (all slices)
    ocen=fr.to_mm(np.argwhere((t>0)&(t<255))[:,:2]).mean(0)
    return box,cen,obox,ocen
S={c:stats(c) for c in cases}
ex=cases[0]; box0,cen0,obox0,ocen0=S[ex]
off_box=obox0-box0; off_cen=ocen0-cen0
eb=[];ec=[]
for c in cases[1:]:
    box,cen,obox,ocen=S[c]
    eb.append(np.linalg.norm(box+off_box-ocen)); ec.append(np.linalg.norm(cen+off_cen-ocen))
print(P.split('/')[-1], 'window centre to organ centre (mm): box rule median %.0f max %.0f | centroid rule median %.0f max %.0f'%(np.median(eb),max(eb),np.median(ec),max(ec)))
