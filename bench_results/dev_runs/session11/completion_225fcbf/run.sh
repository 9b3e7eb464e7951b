#!/bin/sh
# session 11, commit 225fcbf: Synapse slice with the capped completion; ACDC slice seed 1 A/B
cd /work/s11c
while kill -0 29693 2>/dev/null; do sleep 3; done
PY=/work/main/.venv/bin/python
$PY -m elsnet_core.cli bench ../shared/data/synapse_ct --setting slice --preset fast --threads 2 --methods elsnet --seed 0 --out /work/diag/s11c/synapse_ct_slice.json --work-dir /work/diag/s11c/synapse_ct > /work/diag/s11c/synapse_ct.log 2>&1
$PY -m elsnet_core.cli bench ../shared/data/acdc_cine --setting slice --preset fast --threads 2 --methods elsnet elsnet_no_completion --seed 1 --no-hd95 --out /work/diag/s11c/acdc_cine_slice_seed1.json --work-dir /work/diag/s11c/acdc_cine > /work/diag/s11c/acdc_cine_seed1.log 2>&1
