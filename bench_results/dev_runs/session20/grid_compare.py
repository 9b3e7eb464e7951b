# Session 20: working grids of the session-19 rule (old_preprocess.py = git show 613c07a:elsnet_core/preprocess.py) vs the new InPlaneFrame, on 3 cases per dev pack.
# Output (session 20): fov and offset identical, working images max |diff| <= 1e-5 (ACDC 0.0), labels back identical.
import sys, json, numpy as np, nibabel as nib
sys.path.insert(0,'/tmp/oldpp'); sys.path.insert(0,'/work/main')
import old_preprocess as O
from elsnet_core import preprocess as N
from elsnet_core.io import load_volume
for pack in ('chaos_mr_t2','acdc_cine','synapse_ct'):
    P=f'/work/shared/data/{pack}'; cases=sorted(json.load(open(f'{P}/dataset.json'))['cases'])
    for c in cases[:3]:
        v=load_volume(f'{P}/images/{c}.nii.gz'); lab=np.asarray(nib.load(f'{P}/labels/{c}.nii.gz').dataobj).astype(np.uint8)
        mod='CT' if 'synapse' in pack else 'MR'
        no=O.normalize_intensity(v.array,mod); nn=N.normalize_intensity(v.array,mod)
        fo=O.plan_field_of_view(no,lab,v.affine,128,1.1); fn=N.plan_field_of_view(nn,lab,v.affine,128,1.1)
        go=O.WorkingGrid.plan(v.affine,v.shape,no,128,fo[0],fo[1]); gn=N.WorkingGrid.plan(v.affine,v.shape,nn,128,fn[0],fn[1])
        wo=go.to_working(no); wn=gn.to_working(nn)
        po=go.labels_to_original(go.to_working(lab.astype(np.float32),nearest=True).round().astype(np.uint8)); pn=gn.labels_to_original(gn.to_working(lab.astype(np.float32),nearest=True).round().astype(np.uint8))
        print(pack,c,'fov',np.round(fo[0],4),np.round(fn[0],4),'off',np.round(fo[1],2),np.round(fn[1],2),'work maxdiff',float(np.abs(wo-wn).max()),'back diff',int((po!=pn).sum()), 'affine diag', np.round(np.diag(v.affine)[:3],2))
