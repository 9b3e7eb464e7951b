"""Session 10: two `fast` fits of the bundled CHAOS sample (case_01 exemplar, 3 unlabeled), seed 0,
with STAGE1 STAGE2 steps [and amp 0/1]; prints whether the weights are byte-identical.
Usage (repo root): python fast_repeat.py STAGE1 STAGE2 [AMP]"""
import sys, hashlib, time, torch
from pathlib import Path
from elsnet_core.api import fit
S='samples/chaos_mr_t2/'
ov=dict(stage1_iters=int(sys.argv[1]), stage2_iters=int(sys.argv[2]))
if len(sys.argv) > 3: ov['amp'] = sys.argv[3] == '1'
hs=[]
for r in range(2):
    out=Path(f'/tmp/det/f{r}')
    t=time.time()
    fit([(S+'images/case_01.nii.gz', S+'labels/case_01.nii.gz')], unlabeled=[S+'images/case_02.nii.gz', S+'images/case_03.nii.gz', S+'images/case_05.nii.gz'],
        out_dir=out, preset='fast', seed=0, overrides=ov)
    h=hashlib.sha1((out/'weights.pt').read_bytes()).hexdigest(); hs.append(h)
    print(r, round(time.time()-t,1), h, flush=True)
print('identical' if len(set(hs))==1 else 'DIFFERENT', ov)
