#!/usr/bin/env bash
# Session 10: the protocol's painted slice plus the slice `suggest_next_slice` proposes (from the
# protocol slice-setting model of protocol.sh), painted from the expert label; `fast`, seed 0,
# 2 threads, the test images as the unlabeled pool, scored like `elsnet bench` (no HD95).
# NOT the protocol: it measures what the "paint this slice next" guidance buys.
# SEED=1 refits with seed 1 (the slice stays the one the seed-0 model suggested).
set -u
SEED=${SEED:-0}
S=$([ "$SEED" = 0 ] && echo "" || echo "_s$SEED")
cd /work/main
D=bench_results/dev_runs/session10
for pack in ${PACKS:-chaos_mr_t2 acdc_cine synapse_ct}; do
  P=../shared/data/$pack
  N=$D/next_slice/$pack
  [ -f $N/suggestion.json ] || .venv/bin/python $D/analysis/next_slice.py $P \
      bench_results/tmp/s10_${pack}_slice/elsnet $N
  [ -f $N/label_two_slices.nii.gz ] || { echo "$pack: no suggestion"; continue; }
  ex=$(.venv/bin/python -c "import json;print(json.load(open('$N/suggestion.json'))['exemplar'])")
  unl=$(.venv/bin/python -c "
import json; from elsnet_core.bench import protocol_split
ds=json.load(open('$P/dataset.json')); s=protocol_split(sorted(ds['cases']))
import glob; print(' '.join(glob.glob('$P/images/'+c+'.nii*')[0] for c in s.unlabeled))")
  .venv/bin/elsnet fit --image $(ls $P/images/$ex.nii*) --label $N/label_two_slices.nii.gz \
    --out bench_results/tmp/s10_${pack}_two_slices$S --unlabeled $unl --preset fast --seed $SEED \
    > $N/fit$S.log 2>&1
  .venv/bin/python bench_results/dev_runs/session6/analysis/protocol_eval.py $P \
    bench_results/tmp/s10_${pack}_two_slices$S > $N/eval$S.json 2> $N/eval$S.log
  echo "$pack seed $SEED: $(tr -d '\n' < $N/eval$S.json | head -c 600)"
done
