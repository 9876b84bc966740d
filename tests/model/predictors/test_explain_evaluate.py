"""Every predictor through the project's tools: Grad-CAM (:func:`model.explain.explain`, ViT token
reshape) and ``python -m model.evaluate --model NAME`` (its real code) on real held-out shared images,
with the same per-place answer as ``predict``."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

PUBLISHED = {"geoclip": "geoclip_predictor", "streetclip-zeroshot": "streetclip_predictor",
             "clip-zeroshot": "clip_predictor"}


def _img(seed: int, size=(96, 72)) -> Image.Image:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    a[: size[1] // 2] //= 3  # some structure, so the maps are not flat
    return Image.fromarray(a)


@pytest.mark.parametrize("which", PUBLISHED.values())
def test_gradcam_on_the_clip_tower(which, request):
    from model.explain import explain
    from model.net.backbones.blocks import TokenReshape

    p = request.getfixturevalue(which)
    assert isinstance(p.gradcam_reshape(), TokenReshape)
    assert p.gradcam_layer() is p.net.tower.backbone.blocks[-1].layer_norm1
    img = _img(7)
    pred = p.predict(img)
    by_cell = explain(p, [img, _img(8)], ("cell", pred.top[0].cell_id))
    by_country = explain(p, img, ("country", pred.country_code))
    for e in (by_cell, by_country):
        s = p.input_size
        assert all(c.shape == (s, s) and np.isfinite(c).all() and 0 <= c.min() and c.max() <= 1 for c in e.cams)
        assert all(0 <= r.bottom_share <= 1 for r in e.readouts)
    assert len(by_cell.cams) == 2 and by_cell.cams[0].std() > 0
    assert all(q.grad is None for q in p.net.parameters())  # the hooks leave no gradients behind


def test_the_shipped_checkpoint_is_a_predictor_unchanged(shipped_predictor):
    from model.predict import Predictor

    p = shipped_predictor
    ref = Predictor.load(None, "cpu")
    img = _img(3, (120, 90))
    a, b = p.predict(img), ref.predict(img)
    assert (a.lat, a.lon, a.best_lat, a.best_lon, a.country_code) == (b.lat, b.lon, b.best_lat, b.best_lon,
                                                                       b.country_code)
    np.testing.assert_array_equal(a.cell_probs, b.cell_probs)
    assert p.name == "default" and "Apache-2.0" in p.licence and p.gallery is not None


@pytest.mark.parametrize("name", PUBLISHED)
def test_evaluate_cli_runs_each_predictor_with_the_per_place_protocol(name, places, tiny_env, tmp_path, request):
    """``model.evaluate --model NAME`` on real shared places (4-view places, single views, a label-only
    screenshot): the metric blocks of a checkpoint's evaluation, both GeoGuessr score variants, and per
    place the answer ``predict`` gives on the same views."""
    from model.evaluate import main

    out = tmp_path / "eval"
    m = main(["--model", name, "--data", str(places), "--split", "all", "--out", str(out), "--device", "cpu"])
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["model"] == name and saved["licence"] == m["licence"] and saved["checkpoint"] == name
    pl = m["per_location"]
    man = pd.read_csv(places)
    assert m["n_locations"] == man["location_id"].nunique() == pl["n"] and m["n_images"] == len(man)
    for k in ("country_top1", "median_km", "geoscore_mean", "geoscore_rounded_mean", "acc_750km", "cell_top1"):
        assert k in pl and k in m["per_image"]
    assert abs(pl["geoscore_rounded_mean"] - pl["geoscore_mean"]) <= 0.5  # rounding moves each guess by <= 0.5
    assert pl["n_with_coords"] == man.drop_duplicates("location_id")["lat"].notna().sum()
    assert (out / "predictions.csv").is_file() and (out / "classification_report_country.csv").is_file()

    p = request.getfixturevalue(PUBLISHED[name])
    pred = pd.read_csv(out / "predictions.csv", keep_default_na=False, na_values=[""])
    loc = man.groupby("location_id").filter(lambda g: len(g) == 4)["location_id"].iloc[0]
    rows = pred[pred["location_id"] == loc]
    want = p.predict(list(man.loc[man["location_id"] == loc, "image"]))
    r = rows.iloc[0]
    np.testing.assert_allclose([r["loc_pred_lat"], r["loc_pred_lon"], r["loc_best_lat"], r["loc_best_lon"]],
                               [want.lat, want.lon, want.best_lat, want.best_lon], atol=1e-3)
    assert r["loc_pred_country"] == want.country_code and len(rows) == 4


def test_rounded_geoscore_rounds_each_guess():
    from model.evaluation.metrics import distance_metrics
    from model.geo import geoscore

    d = np.array([0.0, 10.0, 1492.7, 20000.0])
    m = distance_metrics(d)
    assert m["geoscore_mean"] == pytest.approx(np.mean(geoscore(d)))
    assert m["geoscore_rounded_mean"] == pytest.approx(np.mean([5000, 4967, 1839, 0]))
