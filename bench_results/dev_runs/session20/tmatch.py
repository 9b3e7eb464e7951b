# Session 20: tried, not adopted (see docs/benchmarks.md, Session 20).
"""z-start by template matching the exemplar's organ slab in the target (prototype)."""
import sys, itertools, json, numpy as np, nibabel as nib, SimpleITK as sitk
sys.path.insert(0,'/work/main')
from elsnet_core.registration import normalise_intensity, _coarse, _to_sitk, _best_slice_axis_start
P=sys.argv[1]; organ=int(sys.argv[2]); metric=sys.argv[3] if len(sys.argv)>3 else 'ncc'; margin=float(sys.argv[4]) if len(sys.argv)>4 else 20
cases=sorted(json.load(open(f'{P}/dataset.json'))['cases'])
D={}
for c in cases:
    im=nib.load(f'{P}/images/{c}.nii.gz'); D[c]=(np.asarray(im.dataobj,np.float32), np.asarray(nib.load(f'{P}/labels/{c}.nii.gz').dataobj).astype(np.uint8), tuple(float(x) for x in im.header.get_zooms()))
def oz(lab,sp): return (np.flatnonzero((lab==organ).any(axis=(0,1))).mean()+0.5)*sp[2]
def tm(f, m, lab, sp_m, margin_mm):
    init=sitk.CenteredTransformInitializer(f,m,sitk.Similarity3DTransform(),sitk.CenteredTransformInitializerFilter.MOMENTS)
    zs=np.flatnonzero(((lab>0)&(lab<255)).any(axis=(0,1)))
    z0=max(0.0, zs.min()*sp_m[2]-margin_mm); z1=min(lab.shape[2]*sp_m[2], (zs.max()+1)*sp_m[2]+margin_mm)
    # crop moving coarse image to the slab
    msp=m.GetSpacing(); k0=int(np.floor(z0/msp[2])); k1=int(np.ceil(z1/msp[2]))
    k1=min(k1, m.GetSize()[2])
    slab=sitk.RegionOfInterest(m, [m.GetSize()[0], m.GetSize()[1], k1-k0], [0,0,k0])
    reg=sitk.ImageRegistrationMethod()
    if metric=='ncc': reg.SetMetricAsCorrelation()
    else: reg.SetMetricAsMattesMutualInformation(32)
    reg.SetInterpolator(sitk.sitkLinear)
    base=sitk.Similarity3DTransform(init); tx,ty,tz=base.GetTranslation()
    ext_f=f.GetSize()[2]*f.GetSpacing()[2]
    zc_m=0.5*(k0+k1-1)*msp[2]
    best=(np.inf,None)
    step=f.GetSpacing()[2]
    slab_ext=(k1-k0)*msp[2]
    for zc_f in np.arange(0, ext_f+step/2, step):
        # want T(p) with p_z=zc_f -> zc_m ; T(p)=A(p-C)+C+t -> adjust t_z by the z error of current map
        cand=sitk.Similarity3DTransform(base)
        c=np.array(cand.GetCenter()); p=np.array([c[0],c[1],zc_f])
        q=np.array(cand.TransformPoint(tuple(p)))
        cand.SetTranslation((tx,ty,tz+(zc_m-q[2])))
        lo=zc_f-slab_ext/2; hi=zc_f+slab_ext/2
        inside=(min(hi,ext_f)-max(lo,0))/slab_ext
        if inside<0.8: continue
        reg.SetInitialTransform(cand, inPlace=False)
        try: v=float(reg.MetricEvaluate(f,slab))
        except RuntimeError: continue
        if v<best[0]: best=(v,cand)
    return best[1] if best[1] is not None else init
res=[]
for ex,tg in itertools.permutations(cases,2):
    ei,el,es=D[ex]; ti,tl,ts=D[tg]
    true=oz(el,es)-oz(tl,ts)
    f=_coarse(_to_sitk(normalise_intensity(ti),ts),6.0); m=_coarse(_to_sitk(normalise_intensity(ei),es),6.0)
    # convert: true offset defined moving_z - fixed_z for liver centres; evaluate transform at fixed liver centre
    def err(T):
        zf=oz(tl,ts); c=np.array(T.GetCenter()); q=T.TransformPoint((c[0],c[1],zf)); return q[2]-oz(el,es)
    init=sitk.CenteredTransformInitializer(f,m,sitk.Similarity3DTransform(),sitk.CenteredTransformInitializerFilter.MOMENTS)
    e_m=err(init); e_t=err(tm(f,m,el,es,margin))
    res.append((abs(e_m),abs(e_t)))
    print(f'{ex}->{tg} true {true:6.0f} moments err {e_m:6.0f} template err {e_t:6.0f}',flush=True)
R=np.array(res); print('median abs err moments/template', np.median(R,0).round(0), 'max', R.max(0).round(0), 'n>30mm', (R>30).sum(0))
