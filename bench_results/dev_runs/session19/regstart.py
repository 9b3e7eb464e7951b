import sys, nibabel as nib, numpy as np
sys.path.insert(0,'.')
import elsnet_core.registration as R
import SimpleITK as sitk
from elsnet_core.metrics import dice
P='../shared/data/synapse_ct'
def load(c):
    im=nib.load(f'{P}/images/{c}.nii.gz'); return np.asarray(im.dataobj,np.float32), np.asarray(nib.load(f'{P}/labels/{c}.nii.gz').dataobj).astype(np.uint8), tuple(float(x) for x in im.header.get_zooms())
orig=R._best_slice_axis_start
def moments(f,m,seed): return sitk.CenteredTransformInitializer(f,m,sitk.Similarity3DTransform(),sitk.CenteredTransformInitializerFilter.MOMENTS)
ex=sys.argv[1]; ei,el,es=load(ex)
for tg in sys.argv[2:]:
    ti,tl,ts=load(tg)
    for name,fn in (('search',orig),('moments',moments)):
        R._best_slice_axis_start=fn
        r=R.register(ti,ei,ts,es,deformable=False,threads=1,coarse_spacing_mm=6.0)
        lab=np.asarray(r.warp(el,order=0,scale=0.0))
        d=[(dice(lab==c,tl==c) or 0) for c in (1,2,3,4,6,7,8,11)]
        print(ex,'->',tg,name,'affine 8-organ %.3f'%np.mean(d),'metric %.3f'%r.metric_value,flush=True)
