#!/bin/bash
# Session 19: Synapse's remaining three exemplars (sorted(cases)[2..4]; NOT the protocol),
# volume setting, seed 0: ELSNet, atlas and U-Net side by side (case_01 is session 18's q5).
cd /work/main
R=bench_results/dev_runs/session19
W=/work/runs/s19
for EX in case_02 case_03 case_04; do
  .venv/bin/python -m elsnet_core.cli bench ../shared/data/synapse_ct --setting volume --preset fast --threads 2 --seed 0 --exemplar $EX --methods elsnet atlas unet_standard_aug --out $R/synapse_ct_ex-$EX.json --work-dir $W/wd_ex_$EX > $W/synapse_ct_ex-$EX.log 2>&1
done
echo done > $W/q1.done
