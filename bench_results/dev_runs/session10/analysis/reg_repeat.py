"""Session 10: three register() calls on one CHAOS pair; prints per-call time, metric, mean |field| and
the largest difference between fields. Usage (repo root): python reg_repeat.py THREADS|none"""
import sys, numpy as np, nibabel as nib, time
import SimpleITK as sitk
from elsnet_core.registration import register
d='../shared/data/chaos_mr_t2/images/'
import os
fs=sorted(os.listdir(d))[:2]
a=nib.load(d+fs[0]); b=nib.load(d+fs[1])
fa=a.get_fdata().astype(np.float32); fb=b.get_fdata().astype(np.float32)
sa=a.header.get_zooms()[:3]; sb=b.header.get_zooms()[:3]
thr=None if sys.argv[1]=='none' else int(sys.argv[1])
outs=[]
for r in range(3):
    t=time.time()
    res=register(fa,fb,sa,sb,deformable=True,iterations=20,coarse_spacing_mm=6.0,threads=thr)
    d_=res.displacement
    outs.append(d_)
    print(r, time.time()-t, res.metric_value, np.abs(d_).mean(), flush=True)
for r in range(1,3): print('maxdiff', np.abs(outs[r]-outs[0]).max())
