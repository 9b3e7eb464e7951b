"""The network: shapes, and the projection head applied to sampled pixels only."""

from __future__ import annotations

import torch

from elsnet_core.config import make_config
from elsnet_core.losses import PrototypeContrast
from elsnet_core.model import build_elsnet
from elsnet_core.training import amp_enabled


def _model():
    torch.manual_seed(0)
    cfg = make_config("tiny")
    return build_elsnet(cfg, 4).eval(), cfg


def test_logits_and_features_shapes():
    model, cfg = _model()
    x = torch.rand(2, 2 * cfg.context + 1, 32, 32)
    logits, feats = model(x, features=True)
    assert logits.shape == (2, 4, 32, 32)
    assert feats.shape[0] == 2 and feats.shape[2:] == (32, 32)
    assert torch.equal(model(x), logits)


def test_projecting_gathered_pixels_equals_the_dense_embedding():
    model, cfg = _model()
    x = torch.rand(2, 2 * cfg.context + 1, 32, 32)
    with torch.no_grad():
        _, feats = model(x, features=True)
        dense = model.embed(x)  # (N, D, H, W)
        n = torch.tensor([0, 1, 1, 0])
        i = torch.tensor([3, 31, 0, 17])
        j = torch.tensor([5, 2, 30, 17])
        sparse = model.project(feats[n, :, i, j])
    assert sparse.shape == (4, cfg.embed_dim)
    torch.testing.assert_close(sparse, dense[n, :, i, j], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(sparse.norm(dim=1), torch.ones(4))


def test_contrastive_loss_on_features_matches_loss_on_dense_embeddings():
    model, cfg = _model()
    x = torch.rand(2, 2 * cfg.context + 1, 32, 32)
    target = torch.zeros(2, 32, 32, dtype=torch.long)
    target[:, 8:20, 8:20] = 1
    target[:, 22:30, 4:12] = 3
    with torch.no_grad():
        _, feats = model(x, features=True)
        dense = model.embed(x)
    a = PrototypeContrast(4, cfg.embed_dim)
    b = PrototypeContrast(4, cfg.embed_dim)
    la = a(dense, target, gen=torch.Generator().manual_seed(1))
    lb = b(feats, target, gen=torch.Generator().manual_seed(1), project=model.project)
    torch.testing.assert_close(la, lb, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(a.prototypes, b.prototypes, rtol=1e-4, atol=1e-5)


def test_mixed_precision_only_where_it_pays():
    assert not amp_enabled(torch.device("cpu"), False)
    assert amp_enabled(torch.device("cuda"), True)
    assert not amp_enabled(torch.device("cuda"), False)


def test_widths_double_until_the_first_holds_one_channel_per_class():
    cfg = make_config("fast")  # widths 8..128
    # 14 classes (13 organs + background) do not fit 8 channels: every width doubles once
    assert cfg.for_classes(14).widths == (16, 32, 64, 128, 256)
    # 8 or fewer classes fit: the same config object comes back
    assert cfg.for_classes(8) is cfg and cfg.for_classes(4) is cfg
    assert cfg.for_classes(40).widths == (64, 128, 256, 512, 1024)
    off = make_config("fast", {"widen_for_classes": False})
    assert off.for_classes(14).widths == (8, 16, 32, 64, 128)
