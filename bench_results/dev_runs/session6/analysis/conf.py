import sys, numpy as np, nibabel as nib, json
from pathlib import Path
from elsnet_core.predictor import Predictor, predict_volume
from elsnet_core.io import load_volume
pack=Path(sys.argv[1]); P=Predictor.load(sys.argv[2],"cpu")
cases=sorted(json.load(open(pack/"dataset.json"))["cases"])
for case in cases[1:5]:
    v=load_volume(next((pack/"images").glob(case+"*")))
    g=np.asarray(nib.load(next((pack/"labels").glob(case+"*"))).dataobj).astype(int)
    pr,conf=predict_volume(P.model,P.cfg,P.plan,v.array,v.affine,P.device,lcc=False)
    p=pr.labels
    for c in [1,2,3,4]:
        tp=(p==c)&(g==c); fp=(p==c)&(g!=c)
        if fp.sum()>500 and tp.sum()>100:
            print(case,c,"TP conf q10/50",np.percentile(conf[tp],[10,50]).round(3),"FP",np.percentile(conf[fp],[10,50,90]).round(3),"frac FP conf>=.9",(conf[fp]>=.9).mean().round(2),"TP",(conf[tp]>=.9).mean().round(2))
