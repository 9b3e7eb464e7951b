"""Where do the affine stage's starts put the liver along z, Synapse pair by pair? (session 19)

For every ordered pair (exemplar = moving, target = fixed) of synapse_ct, the error (mm) of
the slice-axis offset each start implies against the offset between the two livers' centres:
the moments start (CenteredTransformInitializer MOMENTS), the start
``registration._best_slice_axis_start`` picks (moments + the best of 7 shifts by Mattes MI),
and a 1-D profile match (body area and mean intensity per 6 mm level, best mean NCC with at
least half the shorter scan overlapping; tried here, not adopted).

    python bench_results/dev_runs/session19/zstart.py ../shared/data/synapse_ct 6   # repo root
"""
import sys, itertools, nibabel as nib, numpy as np
sys.path.insert(0,'.')
from elsnet_core.registration import normalise_intensity, _coarse, _to_sitk, _best_slice_axis_start
import SimpleITK as sitk
P=sys.argv[1]; organ=int(sys.argv[2])
import json; cases=sorted(json.load(open(f'{P}/dataset.json'))['cases'])
D={}
for c in cases:
    im=nib.load(f'{P}/images/{c}.nii.gz'); D[c]=(np.asarray(im.dataobj,np.float32), np.asarray(nib.load(f'{P}/labels/{c}.nii.gz').dataobj).astype(np.uint8), tuple(float(x) for x in im.header.get_zooms()))
def oz(lab,sp): return (np.flatnonzero((lab==organ).any(axis=(0,1))).mean()+0.5)*sp[2]
def profile(img,sp,step=6.0):
    n=normalise_intensity(img)
    body=n>0.05 if True else None
    # per slice: body area fraction, mean intensity in body, dark-in-body fraction
    area=body.mean(axis=(0,1)); mean=np.array([n[:,:,k][body[:,:,k]].mean() if body[:,:,k].any() else 0 for k in range(n.shape[2])])
    # resample to step mm along z
    zc=(np.arange(n.shape[2])+0.5)*sp[2]; zs=np.arange(step/2, n.shape[2]*sp[2], step)
    return np.stack([np.interp(zs,zc,area),np.interp(zs,zc,mean)],1), step
def best_offset(pf,pm,step,min_frac=0.5):
    # offset o (mm): moving_z = fixed_z + o ; maximise mean NCC over features in overlap
    nf,nm=len(pf),len(pm); best=None
    for k in range(-(nf-1),nm):
        # fixed index i <-> moving index i+k
        i0=max(0,-k); i1=min(nf,nm-k)
        if i1-i0 < min_frac*min(nf,nm): continue
        a=pf[i0:i1]; b=pm[i0+k:i1+k]
        s=0
        for j in range(a.shape[1]):
            x=a[:,j]-a[:,j].mean(); y=b[:,j]-b[:,j].mean()
            s+= (x*y).sum()/np.sqrt((x*x).sum()*(y*y).sum()+1e-9)
        s/=a.shape[1]
        if best is None or s>best[0]: best=(s,k*step)
    return best
res=[]
for ex,tg in itertools.permutations(cases,2):
    ei,el,es=D[ex]; ti,tl,ts=D[tg]
    true=oz(el,es)-oz(tl,ts)  # moving_z - fixed_z
    f=_coarse(_to_sitk(normalise_intensity(ti),ts),6.0); m=_coarse(_to_sitk(normalise_intensity(ei),es),6.0)
    init=sitk.CenteredTransformInitializer(f,m,sitk.Similarity3DTransform(),sitk.CenteredTransformInitializerFilter.MOMENTS)
    mom=init.GetTranslation()[2]
    srch=sitk.Similarity3DTransform(_best_slice_axis_start(f,m,0)).GetTranslation()[2]
    pf,st=profile(ti,ts); pm,_=profile(ei,es); s,prof=best_offset(pf,pm,st)
    res.append((abs(mom-true),abs(srch-true),abs(prof-true)))
    print(f'{ex}->{tg} true {true:6.0f}  moments err {mom-true:6.0f}  search err {srch-true:6.0f}  profile err {prof-true:6.0f} (ncc {s:.2f})',flush=True)
R=np.array(res); print('median abs err moments/search/profile', np.median(R,0).round(0), 'max', R.max(0).round(0), 'n>40mm', (R>40).sum(0))
