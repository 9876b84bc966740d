"""Pure logic of the Predict page: tables, summary, result map, comparisons, inputs, model card."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from app.about import model_card
from app.predict import logic as pl
from app.predict import sources
from model.geo import geoscore, haversine_km
from tests.app.apphelpers import jpeg_with_gps


@pytest.fixture
def pred(fake_predictor):
    return fake_predictor.predict(Image.new("RGB", (80, 60), (90, 120, 60)), top_k=6)


def test_fmt_km():
    assert pl.fmt_km(0.25) == "250 m" and pl.fmt_km(12.34) == "12.3 km" and pl.fmt_km(1234.4) == "1,234 km"
    assert pl.fmt_km(float("nan")) == "?"


@pytest.mark.parametrize("text,expected", [
    ("45.81, 15.97", (45.81, 15.97)), ("45.81;15.97", (45.81, 15.97)), ("-33.9 151.2", (-33.9, 151.2)),
    ("33.9 S, 151.2 E", (-33.9, 151.2)), ("40.7N, 74.0W", (40.7, -74.0)),
])
def test_parse_latlon(text, expected):
    assert pl.parse_latlon(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "hello", "91, 0", "0, 181", "45.8", "1,2,3"])
def test_parse_latlon_rejects(text):
    with pytest.raises(ValueError):
        pl.parse_latlon(text)


def test_guess_rows_distances_and_scores(pred):
    truth = pl.Truth(45.81, 15.98, "test")
    rows = pl.guess_rows(pred, truth, 3)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert sum(r["prob"] for r in pl.guess_rows(pred, None, 6)) == pytest.approx(1.0, abs=1e-6)
    for r in rows:
        d = haversine_km(r["lat"], r["lon"], truth.lat, truth.lon)
        assert r["km"] == pytest.approx(d) and r["score"] == round(geoscore(d))
    table = pl.guess_table(rows)
    assert list(table.columns) == ["#", "Place", "Region", "Country", "Probability", "Distance (km)", "Score"]
    assert "Distance (km)" not in pl.guess_table(pl.guess_rows(pred, None, 3)).columns
    assert pl.guess_table([]).empty


def test_summary(pred):
    s = pl.summary(pred, None)
    assert s["country"] == pred.country and 0 < s["country_prob"] <= 1 and "km" not in s
    s = pl.summary(pred, pl.Truth(pred.lat, pred.lon, "x"))
    assert s["km"] == pytest.approx(0.0, abs=1e-6) and s["score"] == 5000


def test_prediction_map_has_everything(pred, fake_predictor):
    truth = pl.Truth(35.0, 139.0, "EXIF")
    m = pl.prediction_map(pred, truth, 3, cells=fake_predictor.cells.table)
    from app.maps.builders import map_html

    html = map_html(m)
    for kind in ("truth", "model", "best", "candidate"):
        assert f"geo-marker-{kind}" in html
    assert html.count("geo-marker-candidate") >= 3
    assert "P(country)" in html and "P(cell)" in html and "Top-3 guesses" in html
    assert "points" in html and "fitBounds" in html
    no_truth = map_html(pl.prediction_map(pred, None, 2))
    assert "geo-marker-truth" not in no_truth and "P(cell)" not in no_truth


def test_top_cells(pred, fake_predictor):
    tc = pl.top_cells(pred, fake_predictor.cells.table, k=3, min_prob=0.0)
    assert len(tc) == 3 and (np.diff(tc["prob"]) <= 0).all()
    assert pl.top_cells(pred, fake_predictor.cells.table, min_prob=1.1).empty


def test_compare_and_verdict(pred, fake_predictor):
    other = fake_predictor.predict(Image.new("RGB", (80, 60), (250, 10, 10)))
    c = pl.compare(pred, other, pl.Truth(45.8, 16.0, "t"))
    assert c["moved_km"] == pytest.approx(haversine_km(pred.lat, pred.lon, other.lat, other.lon))
    assert {"km_before", "km_after", "score_before", "score_after"} <= set(c)
    # confidence = the top country's probability, as the side panel's "Country confidence"
    assert (c["conf_before"], c["conf_after"]) == (pred.country_probs[0][2], other.country_probs[0][2])
    same = pl.compare(pred, pred, None)
    assert same["moved_km"] == 0 and not same["country_changed"]
    assert "barely changed" in pl.shortcut_verdict(same)
    moved = dict(same, country_changed=True, country_before="Croatia", country_after="France")
    assert "Croatia → France" in pl.shortcut_verdict(moved)


def test_target_options(pred):
    opts = pl.target_options(pred, 3)
    assert len(opts) == 4
    assert opts[0][1] == ("cell", pred.top[0].cell_id) and opts[1][1] == ("country", pred.country_code)
    assert opts[3][1] == ("cell", pred.top[2].cell_id)


def test_hidden_variant():
    img = Image.new("RGB", (100, 100), (10, 200, 10))
    imgs, crop = pl.hidden_variant([img], "Bottom band", 0.1)
    assert imgs == [img] and crop == 0.25
    imgs, crop = pl.hidden_variant([img], "edges", 0.1)
    assert crop == 0.1 and imgs[0] is not img
    _, crop = pl.hidden_variant([img], "Both", 0.4)
    assert crop == 0.4
    with pytest.raises(ValueError):
        pl.hidden_variant([img], "sky", 0.0)


def test_views_key_and_thumbnail():
    assert pl.views_key([b"a", b"b"]) == pl.views_key([b"a", b"b"]) != pl.views_key([b"b", b"a"])
    assert pl.views_key([b"a"], "x") != pl.views_key([b"a"], "y")
    t = pl.thumbnail(Image.new("RGB", (3000, 1000)), 300)
    assert t.size == (300, 100)


# ----------------------------------------------------------------------------------- sources
def test_load_uploads(shared_test_image):
    path, lat, lon = shared_test_image
    good = path.read_bytes()
    gps = jpeg_with_gps(path, -33.8568, 151.2153)
    lv = sources.load_uploads([("a.jpg", good), ("broken.jpg", b"not an image"), ("x.gif", b"GIF89a"),
                               ("b.jpg", gps), ("empty.png", b"")])
    assert lv.names == ["a.jpg", "b.jpg"] and len(lv.images) == 2
    assert len(lv.errors) == 3
    assert any("broken.jpg" in e and "not a recognised image" in e for e in lv.errors)
    assert any(".gif files are not supported" in e for e in lv.errors)
    assert lv.gps == pytest.approx((-33.8568, 151.2153), abs=1e-3) and lv.gps_from == "b.jpg"


def test_test_locations_groups_views(tmp_path):
    for n in ("a0", "a1", "b0"):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{n}.jpg")
    df = pd.DataFrame({"location_id": ["a", "a", "b", "c", "d"], "group_id": ["g1", "g1", "g2", "g3", "g4"],
                       "view": [1, 0, 0, 0, 0],
                       "split": ["test", "test", "test", "train", "test"],
                       "lat": [1.0, 1.0, 2.0, 3.0, np.nan], "lon": [1.0, 1.0, 2.0, 3.0, np.nan],
                       "country": ["X"] * 5, "admin1": [""] * 5, "source": ["s"] * 5,
                       "path": [str(tmp_path / f) for f in ("a1.jpg", "a0.jpg", "b0.jpg", "a0.jpg", "a0.jpg")]})
    t = sources.test_locations(df)
    assert list(t["location_id"]) == ["a", "b"] and list(t["group_id"]) == ["g1", "g2"]
    assert [p.rsplit("/", 1)[1] for p in t.iloc[0]["paths"]] == ["a0.jpg", "a1.jpg"]
    lv = sources.load_paths(list(t.iloc[0]["paths"]) + [str(tmp_path / "missing.jpg")])
    assert len(lv.images) == 2 and "missing.jpg" in lv.errors[0]
    assert sources.test_locations(df[df["split"] == "train"]).empty


def test_find_api_key_order(monkeypatch):
    for v in sources.SECRET_NAMES:
        monkeypatch.delenv(v, raising=False)
    assert sources.find_api_key("", None) is None
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", "env-key")
    assert sources.find_api_key(None, None) == "env-key"
    assert sources.find_api_key("", {"GSV_API_KEY": "secret-key"}) == "secret-key"
    assert sources.find_api_key("  typed  ", {"GSV_API_KEY": "secret-key"}) == "typed"

    class Broken:
        def get(self, _k):
            raise FileNotFoundError("no secrets.toml")

    assert sources.find_api_key("", Broken()) == "env-key"


def test_request_from_link():
    r = sources.request_from_link("https://www.google.com/maps/@45.81,15.97,3a,75y,90h,95t/data=!3m1", 0, 0, 90)
    assert (r.lat, r.lon, r.heading, r.pitch, r.fov) == (45.81, 15.97, 90.0, 5.0, 75.0)
    r = sources.request_from_link("45.81,15.97", 10, -5, 200)
    assert (r.heading, r.pitch, r.fov) == (10, -5, 120)
    from model.streetview import LinkError

    with pytest.raises(LinkError):
        sources.request_from_link("https://example.com/x", 0, 0, 90)


def test_error_messages_are_specific_and_key_free():
    from model import streetview as sv

    msgs = {c: sources.error_message(c("Street View metadata: x")) for c in
            (sv.RequestDenied, sv.QuotaExceeded, sv.NoCoverage, sv.NetworkError, sv.MissingKeyError,
             sv.InvalidRequest, sv.ServerError, sv.LinkError)}
    assert "key is wrong" in msgs[sv.RequestDenied] and "quota" in msgs[sv.QuotaExceeded]
    assert "coverage" in msgs[sv.NoCoverage] and "No Street View API key" in msgs[sv.MissingKeyError]
    assert "link" in msgs[sv.LinkError] and len(set(msgs.values())) == len(msgs)
    assert sources.error_message(RuntimeError("secret-abc")) == "Street View failed: RuntimeError"


# -------------------------------------------------------------------------------- model card
def test_model_card(fake_predictor):
    t = model_card.metrics_table(fake_predictor.meta["metrics"])
    assert list(t.columns) == ["Metric", "per location", "per image"]
    row = t[t["Metric"] == "Country accuracy (top-1)"].iloc[0]
    assert (row["per location"], row["per image"]) == ("50.0 %", "45.0 %")
    assert t[t["Metric"] == "Median error"]["per location"].item() == "812 km"
    assert t[t["Metric"] == "Test examples"]["per location"].item() == ""
    assert model_card.metrics_table(None).empty
    assert model_card.metrics_table({"per_location.median_km": 10.0})["per location"].item() == "10 km"
    nested = model_card.metrics_table({"history": [{"epoch": 1}], "test": {"per_image": {"cell_top3": 0.25}}})
    assert nested.to_dict("records") == [{"Metric": "Cell accuracy (top-3)", "per image": "25.0 %"}]
    facts = model_card.describe(fake_predictor.meta, 6)
    assert facts["Backbone"] == "tiny-cnn" and facts["Cells"].startswith("6 (geocells")
    assert "10%" in facts["Bottom crop"] and "epochs=3" in facts["Training"]
    assert model_card.describe({}, 0)["Backbone"] == "unknown"
    assert model_card.describe({}, 0)["Retrieval"].startswith("none")
    gal = {"locations": 1972, "with_coordinates": 1650, "country_weight": 0.3, "top_cells": 20}
    assert "1972 training places (1650 with coordinates)" in model_card.describe({"gallery": gal}, 6)["Retrieval"]


def test_huge_image_gets_a_clear_message():
    import io

    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, "PNG")  # 64 megapixels in a few kB
    lv = sources.load_uploads([("huge.png", buf.getvalue())])
    assert not lv.images and len(lv.errors) == 1
    assert "huge.png" in lv.errors[0] and "too large" in lv.errors[0]


def test_crop_note():
    assert "bottom 15%" in model_card.crop_note({"crop": 0.15})
    assert "whole picture" in model_card.crop_note({"crop": 0.0})
    assert model_card.crop_note(None) == ""
