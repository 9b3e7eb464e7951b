import sys, numpy as np, nibabel as nib, json, torch
from pathlib import Path
from elsnet_core.predictor import Predictor, context_stack
from elsnet_core.io import load_volume
from elsnet_core.preprocess import normalize_intensity, WorkingGrid
pack=Path(sys.argv[1]); P=Predictor.load(sys.argv[2],"cpu"); zex=int(sys.argv[3])
cases=sorted(json.load(open(pack/"dataset.json"))["cases"]); cfg=P.cfg; plan=P.plan
def work(case, lab=True):
    v=load_volume(next((pack/"images").glob(case+"*")))
    n=normalize_intensity(v.array,plan.modality,cfg.ct_window,cfg.mr_percentiles)
    grid=WorkingGrid.plan(v.affine,n.shape,n,cfg.size,plan.pixel_mm,plan.offset_mm)
    g=np.asarray(nib.load(next((pack/"labels").glob(case+"*"))).dataobj).astype(np.float32)
    return grid.to_working(n), grid.to_working(g,nearest=True).round().astype(int)
@torch.no_grad()
def run(w):
    x=torch.from_numpy(context_stack(w,cfg.context)).float()
    out_e=[];out_p=[]
    for i in range(0,len(x),16):
        lg,f=P.model(x[i:i+16],features=True)
        out_p.append(lg.softmax(1)); out_e.append(torch.nn.functional.normalize(P.model.proj_head(f).float(),dim=1))
    return torch.cat(out_e).numpy(), torch.cat(out_p).numpy()
w,g=work(cases[0]); E,Pr=run(w)
# locate painted slice on working grid: the slice with most classes
zs=[len(np.unique(g[z])) for z in range(len(g))]
print("working z of painted (approx):", int(np.argmax(zs)))
# use all exemplar slices within +-0 of the painted slice: find via label presence of painted z in original
# simplest: working grid keeps z order; use argmax slice
z=int(np.argmax(zs)); ez=E[z]; gz=g[z]
protos={c:ez[:,gz==c].mean(1) for c in np.unique(gz)}
protos={c:p/np.linalg.norm(p) for c,p in protos.items()}
bank={c:ez[:,gz==c] for c in protos}
for case in cases[1:4]:
    w,g=work(case); E,Pr=run(w); pred=Pr.argmax(1)
    for c in [1,2,4]:
        tp=(pred==c)&(g==c); fp=(pred==c)&(g!=c)
        e=E.transpose(0,2,3,1)
        s_tp=e[tp]@protos[c]; s_fp=e[fp]@protos[c]
        # auc
        a=np.concatenate([s_tp,s_fp]); lab=np.r_[np.ones(len(s_tp)),np.zeros(len(s_fp))]
        order=np.argsort(a); ranks=np.empty(len(a)); ranks[order]=np.arange(len(a))
        auc=(ranks[lab==1].sum()-lab.sum()*(lab.sum()-1)/2)/(lab.sum()*(1-lab).sum())
        print(case,c,"sim TP q10/50",np.percentile(s_tp,[10,50]).round(3),"FP q10/50/90",np.percentile(s_fp,[10,50,90]).round(3),"AUC",round(auc,3), tp.sum(), fp.sum())
