"""Grad-CAM (pytorch-grad-cam) on a frozen tiny CNN, the shortcut readout, hiding, overlays, locking."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from model import explain as ex
from model.locks import model_lock


def striped(w: int = 120, h: int = 90) -> Image.Image:
    a = np.zeros((h, w, 3), np.uint8)
    a[:, ::8] = 255
    a[h * 3 // 4:, :, 0] = 200
    return Image.fromarray(a)


def test_band_masks_partition_and_areas():
    b, e = ex.band_masks(100, 200, bottom=0.2, edge=0.1)
    assert b[80:].all() and not b[:80].any()
    assert not (b & e).any()
    assert e[:10].all() and e[:80, :20].all() and not e[80:, :20].any()
    assert e[50, 5] and e[50, 195] and not e[50, 100]


def test_readout_uniform_and_concentrated():
    r = ex.shortcut_readout(np.ones((100, 100)))
    assert r.bottom_share == pytest.approx(r.bottom_area) and r.edge_share == pytest.approx(r.edge_area)
    assert r.bottom_ratio == pytest.approx(1.0) and r.flags() == []
    cam = np.zeros((100, 100))
    cam[90:, 40:60] = 1.0
    r = ex.shortcut_readout(cam)
    assert r.bottom_share == pytest.approx(1.0) and r.edge_share == 0.0
    assert any("bottom band" in f for f in r.flags())
    cam = np.zeros((100, 100))
    cam[:5, :] = 1.0
    assert any("game UI" in f for f in ex.shortcut_readout(cam).flags())
    zero = ex.shortcut_readout(np.zeros((10, 10)))
    assert zero.bottom_share == pytest.approx(zero.bottom_area)
    with pytest.raises(ValueError):
        ex.shortcut_readout(np.ones((2, 2, 2)))


def test_view_box_matches_crop_and_centre_square():
    assert ex.view_box(640, 640, 0.0) == (0, 0, 640, 640)
    assert ex.view_box(640, 640, 0.25) == (80, 0, 560, 480)
    assert ex.view_box(1600, 900, 0.0) == (350, 0, 1250, 900)
    assert ex.view_box(300, 900, 0.0) == (0, 300, 300, 600)


def test_hide_edges_paints_a_frame_inside_the_view():
    img = striped(200, 100)
    out = ex.hide_edges(img, crop=0.0, frac=0.1)
    a, o = np.asarray(img), np.asarray(out)
    left = ex.view_box(200, 100, 0.0)[0]
    assert (o[:, left + 2] == o[0, left + 2]).all()        # left edge of the view painted
    assert (o[50, 80:120] == a[50, 80:120]).all()          # centre untouched
    assert (o[:, :left] == a[:, :left]).all()              # outside the view untouched
    assert img.size == out.size


def test_targets():
    out = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    assert ex.CellTarget(2)(out[0]).item() == 2.0
    v = ex.CountryTarget([1, 3])(out[0]).item()
    assert v == pytest.approx(float(np.log(np.exp(1) + np.exp(3))))
    with pytest.raises(ValueError):
        ex.CountryTarget([])


def test_gradcam_through_a_frozen_backbone(fake_predictor):
    """The backbone's parameters are frozen: the hook must still give the target layer a gradient."""
    imgs = [striped(), striped(90, 120)]
    e = ex.explain(fake_predictor, imgs, ("cell", 2))
    assert len(e.cams) == 2 and e.cams[0].shape == (64, 64)
    assert all(0.0 <= c.min() and c.max() <= 1.0 for c in e.cams)
    assert any(c.max() > 0 for c in e.cams)
    assert e.boxes[0] == ex.view_box(120, 90, 0.1) and "Paris" in e.target
    assert len(e.readouts) == 2 and e.seconds > 0
    assert all(p.grad is None for p in fake_predictor.net.parameters())  # shared model left clean
    assert not fake_predictor.net.body[2]._forward_hooks                 # hooks removed


def test_country_target_and_errors(fake_predictor):
    e = ex.explain(fake_predictor, striped(), ("country", "HR"))
    assert e.target == "country HR" and e.cams[0].shape == (64, 64)
    with pytest.raises(ValueError, match="no cell in country"):
        ex.explain(fake_predictor, striped(), ("country", "ZZ"))
    with pytest.raises(ValueError, match="target kind"):
        ex.explain(fake_predictor, striped(), ("pixel", 1))
    with pytest.raises(ValueError):
        ex.explain(fake_predictor, [], ("cell", 0))


def test_default_crop(fake_predictor):
    assert ex.default_crop(fake_predictor) == 0.1
    assert ex.default_crop(object()) == 0.0


def test_overlay_dims_the_unseen_parts():
    img = Image.new("RGB", (200, 100), (200, 200, 200))
    cam = np.zeros((8, 8), np.float32)
    out = ex.overlay(img, cam, ex.view_box(200, 100, 0.0), opacity=0.0)
    a = np.asarray(out)
    assert out.size == (200, 100)
    assert a[50, 10, 0] < 100 and a[50, 100, 0] == 200   # outside dimmed, inside untouched at opacity 0
    big = ex.overlay(Image.new("RGB", (3000, 1500)), cam, (0, 0, 1500, 1500), max_side=600)
    assert max(big.size) == 600


def test_lock_is_per_model_and_reentrant(fake_predictor):
    lk = model_lock(fake_predictor)
    assert model_lock(fake_predictor) is lk and model_lock(object()) is not lk
    with lk, lk:
        pass


def test_lock_is_the_predictors_own():
    """model.predict.Predictor serialises its forward passes with ``self.lock``: Grad-CAM must use it."""
    class WithLock:
        lock = threading.RLock()

    assert model_lock(WithLock()) is WithLock.lock


def test_concurrent_explanations_and_predictions(fake_predictor):
    """Sessions share one model: Grad-CAM and predictions from many threads stay correct."""
    img = striped()
    ref = ex.explain(fake_predictor, img, ("cell", 1)).cams[0]
    ref_p = fake_predictor.predict(img).cell_probs
    errors: list[str] = []

    def work(i: int) -> None:
        try:
            for _ in range(3):
                if i % 2:
                    c = ex.explain(fake_predictor, img, ("cell", 1)).cams[0]
                    if not np.allclose(c, ref, atol=1e-5):
                        errors.append("cam differs")
                else:
                    with model_lock(fake_predictor):
                        p = fake_predictor.predict(img).cell_probs
                    if not np.allclose(p, ref_p, atol=1e-6):
                        errors.append("prediction differs")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
