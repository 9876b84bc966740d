"""The out-of-distribution signal (model/ood.py): the residual off the training features' principal
subspace on data made here, the sidecar's round trip and its fingerprint, feature capture on a real
network, and the shipped model's calibration on real test photos and on pictures that are not
street scenes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from model import ood

from tests.shared import REPO
SHIPPED = REPO / "assets" / "models" / "default.pt"


def street_like(n: int, seed: int = 0, d: int = 64, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """n features (n, d) near a k-dimensional subspace (a fixed mean direction plus small noise), and the basis."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(np.random.default_rng(99).normal(size=(d, k)))[0].T  # (k, d), the same for every seed
    base = np.abs(np.random.default_rng(98).normal(size=d)) * 2
    x = base + rng.normal(size=(n, k)) @ basis + 0.05 * rng.normal(size=(n, d))
    return x.astype(np.float32), basis


def test_reference_scores_what_lies_off_the_subspace():
    x, basis = street_like(400)
    ref = ood.fit_reference(x, dims=4)
    assert ref.components.shape == (4, 64) and ref.mean.shape == (64,)
    # the fitted directions span the true ones
    assert np.linalg.svd(ref.components @ basis.T, compute_uv=False).min() > 0.95
    held, _ = street_like(200, seed=1)
    off = np.abs(np.random.default_rng(2).normal(size=(50, 64))).astype(np.float32)  # unrelated features
    s_in, s_off = ref.scores(held), ref.scores(off)
    assert s_off.min() > np.quantile(s_in, 0.99)
    assert np.allclose(ref.scores(held * 7.0), s_in, atol=1e-5)  # scale-free (unit features)
    auto = ood.fit_reference(x, variance=0.5)
    assert 1 <= auto.components.shape[0] <= 4


def test_calibrate_sets_the_threshold_on_held_out_data():
    fit, _ = street_like(500)
    held, _ = street_like(400, seed=3)
    locs = [f"loc{i // 4}" for i in range(len(held))]
    cal = ood.calibrate(fit, held, locs, "abc", quantile=0.02)
    s = cal.reference.scores(held)
    assert np.mean(s <= cal.threshold) == pytest.approx(0.98, abs=0.005)
    assert cal.n_images == 400 and cal.n_locations == 100 and cal.n_fit == 500
    assert cal.extra["held_out_image_pass_rate"] == pytest.approx(np.mean(s <= cal.threshold))
    with pytest.raises(ValueError):
        ood.calibrate(fit, held, locs, "abc", quantile=0.7)
    with pytest.raises(ValueError):
        ood.calibrate(fit[:3], held, locs, "abc")


def test_sidecar_round_trip_and_fingerprint(tmp_path):
    fit, _ = street_like(300)
    held, _ = street_like(100, seed=4)
    cal = ood.calibrate(fit, held, [str(i) for i in range(100)], "f00d", checkpoint="m.pt")
    ck = tmp_path / "m.pt"
    assert ood.sidecar_path(ck) == tmp_path / "m.ood.json"
    ood.sidecar_path(ck).write_text(json.dumps(cal.to_dict()))
    back = ood.load_calibration(ck, "f00d")
    assert back is not None and back.threshold == cal.threshold
    assert np.array_equal(back.reference.scores(held), cal.reference.scores(held))  # stored exactly as calibrated
    assert ood.load_calibration(ck, "another-net") is None
    assert ood.load_calibration(tmp_path / "none.pt", "f00d") is None
    ood.sidecar_path(ck).write_text("{not json")
    assert ood.load_calibration(ck, "f00d") is None


def test_assess_flags_inputs_and_views():
    fit, _ = street_like(300)
    held, _ = street_like(200, seed=5)
    cal = ood.calibrate(fit, held, [str(i) for i in range(200)], "x")
    off = np.abs(np.random.default_rng(6).normal(size=(1, 64))).astype(np.float32)
    a = ood.assess(np.concatenate([held[:3], off]), cal)
    assert a.unusual_views == [3] and len(a.scores) == 4 and a.score == pytest.approx(a.scores.mean())
    assert ood.assess(off, cal).unusual
    assert ood.assess(None, cal) is None and ood.assess(held[:1], None) is None


def test_capture_features_sees_what_the_head_receives():
    from model.net.heads import GeoHead
    from model.net.network import GeoNet

    class Pool(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3))

    torch.manual_seed(0)
    net = GeoNet(Pool(), GeoHead(3, 5, 8, 0.0, "offset")).eval()

    class P:  # the predictor surface that capture_features uses
        pass

    p = P()
    p.net = net
    x = torch.rand(2, 3, 8, 8)
    with ood.capture_features(p) as got:
        net(x)
    assert len(got) == 1 and np.allclose(got[0], x.mean(dim=(2, 3)).numpy())
    net(x)  # the hook is gone afterwards
    assert len(got) == 1
    with ood.capture_features(object()) as none:  # no network: nothing captured, no error
        pass
    assert none == []


@pytest.fixture(scope="module")
def shipped():
    if not SHIPPED.is_file() or not ood.sidecar_path(SHIPPED).is_file():
        pytest.skip("the shipped model or its OOD sidecar is not here")
    from model.predict import Predictor

    return Predictor.load(SHIPPED)


def _check(p, images):
    with ood.capture_features(p) as got:
        p.predict(images)
    return ood.predictor_check(p, got)


def test_the_shipped_sidecar_matches_the_shipped_model(shipped):
    cal = ood.predictor_calibration(shipped)
    assert cal is not None, "assets/models/default.ood.json does not match default.pt: run python -m model.ood"
    assert cal.split == "val" and cal.n_images > 500 and cal.extra["held_out_image_pass_rate"] >= 0.98


def test_the_shipped_model_flags_pictures_that_are_not_street_scenes(shipped):
    rng = np.random.default_rng(0)
    for img in (Image.new("RGB", (300, 300), (128, 128, 128)),  # the grey pixel, as the model sees it
                Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)),
                Image.new("RGB", (300, 300), (20, 160, 40))):
        a = _check(shipped, [img])
        assert a is not None and a.unusual, a


def test_the_shipped_model_passes_real_held_out_street_photos(shipped, shared_manifest):
    t = shared_manifest[(shared_manifest["split"] == "test") & (shared_manifest["source"] == "gsv_strips")]
    locs = list(t.groupby("location_id"))[:6]
    flagged = [lid for lid, g in locs if _check(shipped, [Image.open(pth).convert("RGB") for pth in g["path"]]).unusual]
    assert len(flagged) <= 1, flagged
