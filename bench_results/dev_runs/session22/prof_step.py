"""Time the parts of one fast-preset training step on random data (CPU)."""
import sys, time
import numpy as np, torch
from elsnet_core.config import make_config
from elsnet_core.model import build_elsnet
from elsnet_core.losses import PrototypeContrast, ce_dice_loss
from elsnet_core.synthesis import augment
from elsnet_core.training import SlicePool, Source, autocast_ctx
torch.set_num_threads(2)
amp = sys.argv[1] == "bf16"
ncls = int(sys.argv[2]) if len(sys.argv) > 2 else 14
cfg = make_config("fast")
dev = torch.device("cpu")
model = build_elsnet(cfg, ncls).to(memory_format=torch.channels_last)
contrast = PrototypeContrast(ncls, cfg.embed_dim, cfg.temperature, cfg.prototype_momentum, cfg.pixels_per_class)
opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
rng0 = np.random.default_rng(0)
pool = SlicePool(cfg.context, {"exemplar": 1.0})
img = rng0.random((80, cfg.size, cfg.size), dtype=np.float32)
lab = np.zeros((80, cfg.size, cfg.size), np.uint8)
for c in range(1, ncls):
    lab[10:70, 8*c:8*c+10, 20:60] = c
pool.add(Source(img, lab, "exemplar"))
T = {k: 0.0 for k in ["sample", "augment", "forward", "loss", "contrast", "backward", "step"]}
N = 12
for it in range(N + 3):
    rng = np.random.default_rng([0, it]); gen = torch.Generator().manual_seed(it)
    t = [time.perf_counter()]
    x, y = pool.sample(cfg.batch_size, rng); t.append(time.perf_counter())
    x, y = augment(x, y, gen, strong=True, rotate_deg=cfg.rotate_deg, scale=tuple(cfg.scale_range), elastic=0.03, organ_scale=cfg.organ_scale)
    x = x.contiguous(memory_format=torch.channels_last); t.append(time.perf_counter())
    with autocast_ctx(dev, amp):
        logits, feats = model(x, features=True)
    t.append(time.perf_counter())
    loss, parts = ce_dice_loss(logits, y, cfg.dice_weight); t.append(time.perf_counter())
    lc = contrast(feats.float(), y, logits, gen, project=model.project)
    loss = loss + cfg.contrastive_weight * lc; t.append(time.perf_counter())
    opt.zero_grad(); loss.backward(); t.append(time.perf_counter())
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0); opt.step(); t.append(time.perf_counter())
    if it >= 3:
        for k, a, b in zip(T, t, t[1:]):
            T[k] += b - a
tot = sum(T.values())
print(f"amp={amp} ncls={ncls} step {tot/N:.3f} s: " + ", ".join(f"{k} {v/N:.3f} ({100*v/tot:.0f}%)" for k, v in T.items()))
