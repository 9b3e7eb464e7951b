"""Losses: 255 is ignored; the prototype InfoNCE falls when embeddings cluster by class."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from elsnet_core.losses import IGNORE, PrototypeContrast, ce_dice_loss, class_balance_weights


def test_ignored_pixels_do_not_change_loss_nor_get_gradient():
    # given logits and a target where the right half is not annotated
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    target = torch.randint(0, 3, (2, 8, 8))
    target[..., 4:] = IGNORE
    loss, _ = ce_dice_loss(logits, target)
    loss.backward()
    # then the ignored pixels receive no gradient
    assert logits.grad[..., 4:].abs().max() == 0
    assert logits.grad[..., :4].abs().max() > 0
    # and changing the logits there does not change the loss
    other = logits.detach().clone()
    other[..., 4:] = torch.randn_like(other[..., 4:]) * 10
    loss2, _ = ce_dice_loss(other, target)
    assert torch.allclose(loss.detach(), loss2, atol=1e-6)


def test_all_ignored_batch_gives_zero_loss():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss, parts = ce_dice_loss(logits, torch.full((1, 4, 4), IGNORE))
    assert float(loss.detach()) == 0.0 and parts["ce"] == 0.0


def test_perfect_prediction_has_low_loss_and_wrong_has_high():
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[:, 2:6, 2:6] = 1
    good = F.one_hot(target, 2).permute(0, 3, 1, 2).float() * 20 - 10
    bad = -good
    assert ce_dice_loss(good, target)[0] < 0.05
    assert ce_dice_loss(bad, target)[0] > 5


def _embeddings(target: torch.Tensor, clustered: bool, gen: torch.Generator) -> torch.Tensor:
    n, h, w = target.shape
    dim = 16
    noise = torch.randn(n, dim, h, w, generator=gen)
    if not clustered:
        return F.normalize(noise, dim=1)
    centres = torch.eye(dim)[:3] * 4.0  # one direction per class
    base = centres[target.clamp(max=2)].permute(0, 3, 1, 2)
    return F.normalize(base + 0.3 * noise, dim=1)


def test_class_balance_weights_lift_only_small_organs_and_are_capped():
    # background 1000 voxels, a big organ (300), an average one (100), a tiny one (4), an
    # absent one; mean organ size (300 + 100 + 4) / 3 = 134.7
    counts = [1000, 300, 100, 4, 0]
    w = class_balance_weights(counts, power=0.5, max_weight=5.0)
    assert w[0] == 1.0 and w[1] == 1.0 and w[4] == 1.0  # background, big, absent
    assert abs(w[2] - (134.666 / 100) ** 0.5) < 1e-3  # slightly lifted
    assert w[3] == 5.0  # (134.7 / 4) ** 0.5 = 5.8, capped
    assert class_balance_weights(counts, power=0.0) == [1.0] * 5
    # min_ratio: the organ 1.35x smaller than the mean keeps 1, the one 34x smaller is lifted
    w4 = class_balance_weights(counts, power=0.5, max_weight=5.0, min_ratio=4.0)
    assert w4 == [1.0, 1.0, 1.0, 5.0, 1.0]


def test_weighted_ce_pushes_harder_on_the_weighted_class():
    # a tiny organ the network misses: its CE weight raises the gradient on its pixels
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[:, 3:5, 3:5] = 1
    logits = torch.zeros(1, 2, 8, 8)
    logits[:, 0] = 3.0  # confident background everywhere
    grads = []
    for weights in (None, torch.tensor([1.0, 8.0])):
        x = logits.clone().requires_grad_(True)
        loss, _ = ce_dice_loss(x, target, dice_weight=0.0, class_weights=weights)
        loss.backward()
        grads.append(float(x.grad[0, 1, 3:5, 3:5].abs().sum() / x.grad[0, 1].abs().sum()))
    # the organ's share of the gradient on the organ channel grows with its weight
    assert grads[1] > grads[0] * 1.5
    # uniform weights give exactly the plain loss
    plain, _ = ce_dice_loss(logits, target)
    same, _ = ce_dice_loss(logits, target, class_weights=torch.ones(2))
    assert torch.allclose(plain, same)


def test_contrastive_loss_is_lower_when_embeddings_cluster_by_class():
    gen = torch.Generator().manual_seed(0)
    target = torch.randint(0, 3, (2, 16, 16), generator=gen)
    target[:, :2] = IGNORE
    losses = {}
    for clustered in (False, True):
        loss_fn = PrototypeContrast(3, 16, temperature=0.1, momentum=0.5, pixels_per_class=32)
        vals = []
        for _ in range(5):  # a few calls so prototypes settle
            emb = _embeddings(target, clustered, gen)
            vals.append(float(loss_fn(emb, target, gen=gen)))
        losses[clustered] = vals[-1]
    assert losses[True] < 0.1 * losses[False]
    assert losses[False] > 0.5


def test_contrastive_loss_falls_when_optimising_embeddings():
    gen = torch.Generator().manual_seed(1)
    target = torch.randint(0, 3, (1, 12, 12), generator=gen)
    raw = torch.randn(1, 8, 12, 12, generator=gen, requires_grad=True)
    loss_fn = PrototypeContrast(3, 8, temperature=0.1, momentum=0.9, pixels_per_class=64)
    opt = torch.optim.SGD([raw], lr=0.5)
    first = last = None
    for step in range(60):
        loss = loss_fn(F.normalize(raw, dim=1), target, gen=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss) if step == 0 else first
        last = float(loss)
    assert last < 0.5 * first
    # the prototypes are unit vectors of the seen classes
    assert bool(loss_fn.seen.all())
    assert torch.allclose(loss_fn.prototypes.norm(dim=1), torch.ones(3), atol=1e-5)
