import sys, numpy as np, nibabel as nib, json
from pathlib import Path
from elsnet_core.predictor import Predictor
from elsnet_core.preprocess import normalize_intensity, detect_modality
pack=Path(sys.argv[1]); model=sys.argv[2]
cases=sorted(json.load(open(pack/"dataset.json"))["cases"])
P=Predictor.load(model,"cpu")
ex=cases[0]; a=np.asarray(nib.load(next((pack/"images").glob(ex+"*"))).dataobj).astype(np.float32)
g=np.asarray(nib.load(next((pack/"labels").glob(ex+"*"))).dataobj).astype(int)
mod=detect_modality(a); z=int(sys.argv[3])
n=normalize_intensity(a,mod,(-125,275),(0.5,99.5))
qs=[1,5,25,50,75,95,99]
for c in sorted(set(np.unique(g[:,:,z]))):
    print("EX",c,np.percentile(n[:,:,z][g[:,:,z]==c],qs).round(2))
for case in cases[1:4]:
    p=next((pack/"images").glob(case+"*")); a=np.asarray(nib.load(p).dataobj).astype(np.float32)
    g=np.asarray(nib.load(next((pack/"labels").glob(case+"*"))).dataobj).astype(int)
    n=normalize_intensity(a,mod,(-125,275),(0.5,99.5)); pr=P.predict_file(p).labels
    for c in sorted(set(np.unique(g))-{0}):
        tp=(pr==c)&(g==c); fp=(pr==c)&(g!=c)
        if fp.sum()>500: print(case,c,"TP",np.percentile(n[tp],qs).round(2),"FP",np.percentile(n[fp],qs).round(2), fp.sum())
