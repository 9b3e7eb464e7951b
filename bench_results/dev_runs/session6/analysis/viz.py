import sys, numpy as np, nibabel as nib
from pathlib import Path
from PIL import Image
from elsnet_core.predictor import Predictor
pack=Path(sys.argv[1]); model=sys.argv[2]; case=sys.argv[3]; out=sys.argv[4]
a=np.asarray(nib.load(next((pack/"images").glob(case+"*"))).dataobj).astype(float)
g=np.asarray(nib.load(next((pack/"labels").glob(case+"*"))).dataobj).astype(int)
p=Predictor.load(model,"cpu").predict_file(next((pack/"images").glob(case+"*"))).labels
lo,hi=np.percentile(a,[1,99]); cols=np.array([[0,0,0],[255,60,60],[60,255,60],[60,60,255],[255,255,0],[255,0,255],[0,255,255],[255,128,0],[128,0,255],[0,128,255],[128,255,0],[255,0,128],[128,128,255],[255,200,128]])
zs=np.linspace(0,a.shape[2]-1,8).astype(int) if len(sys.argv)<6 else np.array([int(x) for x in sys.argv[5].split(",")])
rows=[]
for L in (g,p):
    tiles=[]
    for z in zs:
        s=np.clip((a[:,:,z]-lo)/(hi-lo),0,1)*255; rgb=np.stack([s]*3,-1)
        m=L[:,:,z]>0; c=cols[np.clip(L[:,:,z],0,13)]
        rgb[m]=0.55*rgb[m]+0.45*c[m]; tiles.append(np.rot90(rgb))
    rows.append(np.concatenate(tiles,1))
Image.fromarray(np.concatenate(rows,0).astype(np.uint8)).save(out)
