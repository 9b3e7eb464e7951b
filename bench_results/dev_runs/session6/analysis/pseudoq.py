"""Pseudo-label quality of a stage-1 model: largest component vs elsnet_core.pseudo.anchored_components
("union" row; the helper ``union`` holds the rule variants tried first, DMM env = guard in mm),
and the intensity gate variants (gate_ign: outliers unknown, gate_bg: outliers background).
Usage: python pseudoq.py PACK STAGE1_MODEL_DIR EXEMPLAR_SLICE_LABEL.nii.gz"""
import sys, json, numpy as np, nibabel as nib, torch
from pathlib import Path
torch.set_num_threads(1)
from elsnet_core.predictor import Predictor, infer_probs
from elsnet_core.io import load_volume, load_label
from elsnet_core.preprocess import normalize_intensity, WorkingGrid
from elsnet_core.synthesis import cohort_bank
from elsnet_core import pseudo
from elsnet_core.losses import IGNORE
pack=Path(sys.argv[1]); P=Predictor.load(sys.argv[2],"cpu"); exlab=sys.argv[3]
cfg,plan=P.cfg,P.plan
cases=sorted(json.load(open(pack/"dataset.json"))["cases"])
def study(case, labpath=None):
    v=load_volume(next((pack/"images").glob(case+"*")))
    n=normalize_intensity(v.array,plan.modality,cfg.ct_window,cfg.mr_percentiles)
    g=WorkingGrid.plan(v.affine,v.shape,n,cfg.size,plan.pixel_mm,plan.offset_mm)
    lab=load_label(labpath or next((pack/"labels").glob(case+"*")),v)
    wl=g.to_working(lab.astype(np.float32),nearest=True,fill=IGNORE).round().astype(np.uint8)
    return g.to_working(n), wl, g.working_spacing(v.spacing[2])
ex_img,ex_lab,ex_sp=study(cases[0],exlab)
tests=[study(c) for c in cases[1:]]
_,props=cohort_bank(ex_img,ex_lab,[t[0] for t in tests],[t[2] for t in tests],ex_sp,plan.n_classes,np.random.default_rng(0),iterations=cfg.reg_iterations,coarse_mm=cfg.reg_coarse_mm,per_organ_intensity=False,styles_per_target=1)
K=plan.n_classes
orig=pseudo.largest_component_per_class
anchored=pseudo.anchored_components
from scipy import ndimage
def union(labels,prop):
    kept=np.zeros(labels.shape,bool); con=np.zeros(labels.shape,bool)
    for c in np.unique(labels):
        if c in (0,255): continue
        m=labels==c; comp,n=ndimage.label(m,np.ones((3,3,3))); idx=np.arange(1,n+1)
        ov=ndimage.sum(prop==c,comp,index=idx)
        big=int(np.argmax(ndimage.sum(m,comp,index=idx)))
        far=False
        if ov.max(initial=0)>0 and ov[big]==0:
            d=ndimage.distance_transform_edt(prop!=c,sampling=SP)
            far=d[comp==big+1].min()>float(__import__("os").environ.get("DMM","20"))
        if far:
            kept|=comp==(int(np.argmax(ov))+1)
        else:
            kept|=comp==(int(np.argmax(ndimage.sum(m,comp,index=idx)))+1)
    return kept,con
res={"largest":[], "union":[], "gate_ign":[], "gate_bg":[]}
for (img,gt,SP0),prop in zip(tests,props):
    SP=(SP0[2],SP0[0],SP0[1])
    probs=infer_probs(P.model,img,cfg.context,torch.device("cpu"),tta=True,amp=cfg.amp)
    for mode in res:
        if mode=="largest":
            pseudo.anchored_components=lambda lab,prop,sp:(orig(lab,fill=IGNORE)!=IGNORE)&(lab>0)
        else:
            pseudo.anchored_components=anchored
        lab,_,_=pseudo.select_confident(probs,cfg.pseudo_threshold,prop,agree_threshold=0.6,spacing_mm=SP)
        if mode.startswith("gate"):
            sm=ndimage.gaussian_filter(img,(0,1,1))
            am=probs.argmax(1).numpy()
            for c in range(1,K):
                seed=(prop==c)&(am==c)
                if seed.sum()<30: continue
                lo,hi=np.percentile(sm[seed],[2,98]); m=0.25*(hi-lo)
                bad=(lab==c)&((sm<lo-m)|(sm>hi+m))
                lab[bad]=IGNORE if mode=="gate_ign" else 0
        row=[]
        for c in range(1,K):
            k=(lab==c); g=(gt==c)&(lab!=IGNORE)
            s=k.sum()+g.sum(); row.append(2*(k&g).sum()/s if s else np.nan)
        res[mode].append(row)
for m,v in res.items():
    a=np.nanmean(np.array(v,float),0); print(m, a.round(3), np.nanmean(a).round(3))
