import sys, json, time, numpy as np, nibabel as nib
from pathlib import Path
import SimpleITK as sitk
import elsnet_core.registration as R
pack = Path(sys.argv[1]); variant = sys.argv[2]
ds = json.load(open(pack/'dataset.json')); cases = sorted(ds['cases'])
if 'acdc' in str(pack):
    cases = [c for c in cases if c.split('_frame')[0] != cases[0].split('_frame')[0]] and cases
orig = R._affine_stage
def sim_only(fixed, moving, iterations, seed):
    aff, m = orig(fixed, moving, iterations, seed)  # to reuse code: rerun similarity only
    return aff, m
def svals(t):
    a = np.array(t.GetMatrix()).reshape(3,3); return np.linalg.svd(a, compute_uv=False)
def patched(fixed, moving, iterations, seed):
    init = R._best_slice_axis_start(fixed, moving, seed)
    reg = sitk.ImageRegistrationMethod()
    def run(initial):
        reg = sitk.ImageRegistrationMethod()
        reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
        reg.SetMetricSamplingStrategy(reg.RANDOM); reg.SetMetricSamplingPercentage(R._SAMPLING, seed)
        reg.SetInterpolator(sitk.sitkLinear)
        reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4, numberOfIterations=iterations, relaxationFactor=0.6, gradientMagnitudeTolerance=1e-6)
        reg.SetOptimizerScalesFromPhysicalShift()
        reg.SetShrinkFactorsPerLevel([2, 1]); reg.SetSmoothingSigmasPerLevel([1.0, 0.0]); reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
        reg.SetInitialTransform(initial, inPlace=False)
        out = reg.Execute(fixed, moving)
        if isinstance(out, sitk.CompositeTransform): out = out.GetNthTransform(0)
        return out, float(reg.GetMetricValue())
    sim, ms = run(init); sim = sitk.Similarity3DTransform(sim)
    aff = sitk.AffineTransform(3); aff.SetCenter(sim.GetCenter()); aff.SetMatrix(sim.GetMatrix()); aff.SetTranslation(sim.GetTranslation())
    if variant == 'sim':
        return aff, ms
    out, m = run(aff); out = sitk.AffineTransform(out)
    sv = svals(out); ss = svals(sim)[0]
    print(f'   sim scale {ss:.2f} affine svals {np.round(sv,2)}', flush=True)
    if variant == 'guard' and (sv.max()/sv.min() > 1.25 or sv.max()/ss > 1.25 or ss/sv.min() > 1.25):
        print('   -> similarity', flush=True); return aff, ms
    return out, m
R._affine_stage = patched
from elsnet_core.baselines import atlas_propagation
def load(c, kind):
    im = nib.load(pack/kind/f'{c}.nii.gz'); return np.asarray(im.dataobj).astype(np.float32), tuple(float(z) for z in im.header.get_zooms()[:3])
ex, sp = load(cases[0], 'images'); exl = load(cases[0], 'labels')[0].astype(np.uint8)
exp = cases[0].split('_frame')[0]
tests = [c for c in cases[1:] if c.split('_frame')[0] != exp]
K = int(exl.max()); acc = {k: [] for k in range(1, K+1)}
for c in tests:
    im, s = load(c, 'images'); lab = load(c, 'labels')[0].astype(np.uint8)
    p = atlas_propagation(ex, exl, sp, im, s).deformable
    for k in range(1, K+1):
        a, b = p == k, lab == k
        if a.any() or b.any(): acc[k].append(2*(a&b).sum()/(a.sum()+b.sum()))
    print(c, ' '.join(f'{2*((p==k)&(lab==k)).sum()/max(1,(p==k).sum()+(lab==k).sum()):.2f}' for k in range(1,K+1)), flush=True)
m = {k: float(np.mean(v)) for k, v in acc.items()}
print(variant, 'mean', round(float(np.mean(list(m.values()))),3), {k: round(v,3) for k,v in m.items()})
if K >= 13: print('8-organ', round(float(np.mean([m[k] for k in (1,2,3,4,6,7,8,11)])),3))
