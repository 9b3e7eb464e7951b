#!/bin/bash
# Session 18: one more Synapse exemplar (sorted(cases)[1]; NOT the protocol), volume setting:
# ELSNet, atlas and U-Net side by side.
cd /work/main
R=bench_results/dev_runs/session18
W=/work/runs/s18
EX=$(python3 -c "import json; print(sorted(json.load(open('../shared/data/synapse_ct/dataset.json'))['cases'])[1])")
.venv/bin/python -m elsnet_core.cli bench ../shared/data/synapse_ct --setting volume --preset fast --threads 2 --seed 0 --exemplar $EX --methods elsnet atlas unet_standard_aug --out $R/synapse_ct_ex-$EX.json --work-dir $W/wd_ex_$EX > $W/synapse_ct_ex-$EX.log 2>&1
echo done > $W/q5.done
