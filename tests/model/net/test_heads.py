"""The reference heads: layer structure, outputs per regression mode, and the 2-output regressor."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from model.geo import to_xyz
from model.net.heads import AlexNetHead, GeoHead, ViTMLPHead, build_head, latlon_to_unit
from model.net.network import xyz_to_latlon
from model.train.losses import geo_loss


def test_alexnet_head_is_9216_to_244():
    h = AlexNetHead(256 * 6 * 6, 63)
    lin = [m for m in h.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(9216, 244), (244, 63), (244, 2)]


def test_vit_mlp_head_widths_and_batchnorm():
    h = ViTMLPHead(768, 63)
    lin = [(m.in_features, m.out_features) for m in h.modules() if isinstance(m, nn.Linear)]
    assert lin == [(768, 512), (512, 256), (256, 128), (128, 64), (64, 63), (64, 2)]
    assert [m.num_features for m in h.modules() if isinstance(m, nn.BatchNorm1d)] == [512, 256, 128, 64]
    # the reference's parameter count (its table): fc1..fc4 + bn1..bn4 (affine) + classifier + regressor
    ref = 393728 + 1024 + 131328 + 512 + 32896 + 256 + 8256 + 128 + 4095 + 130
    assert sum(p.numel() for p in h.parameters()) == ref


def test_linear_head_is_one_layer():
    h = build_head("linear", 2048, 10, regression="none")
    assert [(m.in_features, m.out_features) for m in h.modules() if isinstance(m, nn.Linear)] == [(2048, 10)]
    assert set(h(torch.randn(4, 2048))) == {"logits", "embed"}


@pytest.mark.parametrize("kind", ["mlp", "linear", "alexnet", "vit_mlp"])
@pytest.mark.parametrize("regression", ["offset", "direct", "none"])
def test_outputs_per_regression(kind, regression):
    h = build_head(kind, 40, 5, hidden=16, dropout=0.0, regression=regression).train()
    out = h(torch.randn(6, 40))
    assert out["logits"].shape == (6, 5) and h.cls.out_features == 5
    assert ("offset" in out) == (regression == "offset") and ("xyz" in out) == (regression == "direct")
    if regression == "offset":
        assert out["offset"].shape == (6, 5, 2)


def test_latlon_regressor_trains_through_the_direct_loss():
    """The 2-output (lat, lon) regressor is exposed as a unit vector; the geo loss pulls it to the truth."""
    torch.manual_seed(0)
    h = build_head("alexnet", 8, 3, dropout=0.0, regression="latlon")
    f = torch.randn(16, 8)
    lat = torch.full((16,), 45.0)
    lon = torch.full((16,), 170.0)
    batch = {"lat": lat, "lon": lon, "cell": torch.zeros(16, dtype=torch.long), "offset": torch.zeros(16, 2),
             "country_mask": torch.zeros(16, 3, dtype=torch.bool)}
    cells = {"lat": torch.tensor([45.0, 0.0, -30.0]), "lon": torch.tensor([170.0, 0.0, 20.0])}
    opt = torch.optim.Adam(h.parameters(), lr=0.01)
    for _ in range(200):
        loss, parts = geo_loss(h(f), batch, cells, tau_km=100.0, reg_weight=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = h(f)
    assert out["latlon"].shape == (16, 2) and torch.allclose(out["xyz"].norm(dim=1), torch.ones(16))
    plat, plon = xyz_to_latlon(out["xyz"].detach().numpy())
    assert np.abs(plat - 45).max() < 3 and np.abs(((plon - 170 + 180) % 360) - 180).max() < 3
    assert parts["reg"] < 0.01


def test_latlon_to_unit_matches_numpy():
    ll = torch.tensor([[10.0, -170.0], [-80.0, 45.0]])
    assert np.allclose(latlon_to_unit(ll).numpy(), to_xyz(ll[:, 0].numpy(), ll[:, 1].numpy()), atol=1e-6)


def test_mlp_is_the_default_geohead_and_rejects_latlon():
    assert isinstance(build_head("mlp", 10, 3), GeoHead)
    with pytest.raises(ValueError, match="reference head"):
        build_head("mlp", 10, 3, regression="latlon")
    with pytest.raises(KeyError, match="available"):
        build_head("nope", 10, 3)


@pytest.mark.parametrize("kind", ["mlp", "linear", "alexnet", "vit_mlp"])
def test_country_classifier_beside_the_cells(kind):
    h = build_head(kind, 40, 5, hidden=16, regression="offset", n_countries=3).eval()
    out = h(torch.randn(4, 40))
    assert out["country_logits"].shape == (4, 3) and h.country.out_features == 3
    assert build_head(kind, 40, 5, hidden=16).country is None
