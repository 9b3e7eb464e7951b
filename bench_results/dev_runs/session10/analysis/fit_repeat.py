"""Session 10: two tiny fits of the bundled CHAOS sample with seed 0; prints whether the weights are
byte-identical. Usage (repo root): python fit_repeat.py"""
import sys, hashlib, torch, time
from pathlib import Path
from elsnet_core.api import fit
S='samples/chaos_mr_t2/'
hs=[]
for r in range(2):
    out=Path(f'/tmp/det/m{r}')
    t=time.time()
    fit([(S+'images/case_01.nii.gz', S+'labels/case_01.nii.gz')], unlabeled=[S+'images/case_02.nii.gz', S+'images/case_03.nii.gz'],
        out_dir=out, preset='tiny', seed=0, overrides=dict(stage1_iters=30, stage2_iters=10, time_budget_s=None))
    files=sorted(p for p in out.iterdir())
    print(r, time.time()-t, [p.name for p in files])
    sd = None
    for p in files:
        if p.suffix in ('.pt','.safetensors'):
            h=hashlib.sha1(p.read_bytes()).hexdigest(); print(p.name,h); hs.append(h)
print('identical' if len(set(hs))==1 else 'DIFFERENT')
