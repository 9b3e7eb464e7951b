"""acdc_cine with short-axis-like oblique headers: the same voxels, each case's plane turned
62 +- 10 degrees in-plane (a random draw per patient, both frames alike) -- subjects' planes
differ a little, around 62-63 degrees, where the permute/flip canon of session 19 switches axes for this plane."""
import json, shutil, sys, numpy as np, nibabel as nib
from pathlib import Path
src=Path('/work/shared/data/acdc_cine'); dst=Path(sys.argv[1]); (dst/'images').mkdir(parents=True,exist_ok=True); (dst/'labels').mkdir(exist_ok=True)
meta=json.load(open(src/'dataset.json')); json.dump(meta,open(dst/'dataset.json','w'))
rng=np.random.default_rng(0); turns={}
n=np.array([-0.6,0.5,-0.6]); n/=np.linalg.norm(n)
for c in sorted(meta['cases']):
    pid=c.split('_frame')[0]
    if pid not in turns: turns[pid]=62+rng.uniform(-10,10)
    t=np.deg2rad(turns[pid])
    e0=np.cross(n,[0,0,1.0]); e0/=np.linalg.norm(e0); e0=np.cos(t)*e0+np.sin(t)*np.cross(n,e0); e1=np.cross(n,e0)
    for sub in ('images','labels'):
        im=nib.load(src/sub/f'{c}.nii.gz'); sp=im.header.get_zooms()[:3]
        aff=np.eye(4); aff[:3,:3]=np.stack([e0,e1,n],1)@np.diag(sp); aff[:3,3]=(10,-20,30)
        out=nib.Nifti1Image(np.asarray(im.dataobj),aff); out.header.set_data_dtype(im.get_data_dtype())
        nib.save(out,dst/sub/f'{c}.nii.gz')
print({k:round(v,1) for k,v in turns.items()})
