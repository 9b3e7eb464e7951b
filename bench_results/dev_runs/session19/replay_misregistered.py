"""Replay the misregistered-study rule on every logged stage-1 pseudo-labelling round (session 19).

Each fit logs, per study, the stage-1 network's Dice against the registration-propagated label
per organ ("pseudo-labelled study i: ... agreement with registration {...}"). This replays
``registration_fallback``'s choice of organs to hand to registration with every study counted
(before session 19) and without the studies whose best organ agrees < 0.3 (session 19's rule),
and prints the rounds where the two differ.

    python bench_results/dev_runs/session19/replay_misregistered.py 0.3   # from the repo root
"""
import glob, re, ast, collections
import numpy as np
TH=float(__import__('sys').argv[1]) if len(__import__('sys').argv)>1 else 0.3
changed=0; runs=0; excl_runs=0
for f in glob.glob('bench_results/**/*.log', recursive=True):
    blocks=[]; cur=None
    for line in open(f, errors='ignore'):
        m=re.search(r'pseudo-labelled study (\d+).*agreement with registration (\{.*\})', line)
        if m:
            if m.group(1)=='0': cur=[]; blocks.append(cur)
            if cur is not None: cur.append(ast.literal_eval(m.group(2)))
    for b in blocks:
        runs+=1
        organs=sorted({c for a in b for c in a})
        def fails(studies):
            return [c for c in organs if any(c in a for a in studies) and np.mean([a[c] for a in studies if c in a])<0.2]
        good=[a for a in b if a and max(a.values())>=TH]
        if len(good)<len(b): excl_runs+=1
        old=fails(b); new=fails(good) if good else []
        if old!=new:
            changed+=1; print(f.split('/')[-1][:45], 'studies',len(b),'excluded',len(b)-len(good),'handed',old,'->',new)
print('runs',runs,'with exclusions',excl_runs,'changed',changed)
