"""Pure logic of the Predict page: tables, summary, result map, comparisons, inputs, model card."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from app.about import model_card
from app.common import formatting as fm
from app.common import photos
from app.common import result_map as rmap
from app.common import results as rs
from app.common import testset
from app.predict import logic as pl
from app.predict import sources
from model.geo import geoscore, haversine_km
from tests.app.apphelpers import jpeg_with_gps


@pytest.fixture
def pred(fake_predictor):
    return fake_predictor.predict(Image.new("RGB", (80, 60), (90, 120, 60)), top_k=6)


def test_fmt_km():
    assert fm.fmt_km(0.25) == "250 m" and fm.fmt_km(12.34) == "12.3 km" and fm.fmt_km(1234.4) == "1,234 km"
    assert fm.fmt_km(float("nan")) == "?"


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
    truth = rs.Truth(45.81, 15.98, "test")
    rows = rs.guess_rows(pred, truth, 3)
    assert sorted(r["rank"] for r in rows) == [r["rank"] for r in rows] and rows[0]["rank"] == 1
    assert sum(r["prob"] for r in rs.guess_rows(pred, None, 6)) == pytest.approx(1.0, abs=1e-6)
    for r in rows:
        d = haversine_km(r["lat"], r["lon"], truth.lat, truth.lon)
        assert r["km"] == pytest.approx(d) and r["score"] == round(geoscore(d))
    table = rs.guess_table(rows)
    assert list(table.columns) == ["#", "Probability", "Distance (km)", "Score", "Place", "Country"]
    top = max(pred.top, key=lambda g: g.prob)
    assert table["Place"].iloc[0] == fm.place_label(top.name, top.admin1)
    assert "Distance (km)" not in rs.guess_table(rs.guess_rows(pred, None, 3)).columns
    assert rs.guess_table([]).empty


def test_summary(pred):
    s = rs.summary(pred, None)
    assert s["country"] == pred.country and 0 < s["country_prob"] <= 1 and "km" not in s
    s = rs.summary(pred, rs.Truth(pred.lat, pred.lon, "x"))
    assert s["km"] == pytest.approx(0.0, abs=1e-6) and s["score"] == 5000


def test_prediction_map_has_everything(pred, fake_predictor):
    truth = rs.Truth(35.0, 139.0, "EXIF")
    m = rmap.prediction_map(pred, truth, 3, cells=fake_predictor.cells.table)
    from app.maps.builders import map_html

    html = map_html(m)
    for kind in ("truth", "model", "best", "candidate"):
        assert f"geo-marker-{kind}" in html
    assert html.count("geo-marker-candidate") >= 3
    assert "P(country)" in html and "P(cell)" in html and "Top-3 guesses" in html
    assert "points" in html and "fitBounds" in html
    no_truth = map_html(rmap.prediction_map(pred, None, 2))
    assert "geo-marker-truth" not in no_truth and "P(cell)" not in no_truth


def test_top_cells(pred, fake_predictor):
    tc = rmap.top_cells(pred, fake_predictor.cells.table, k=3, min_prob=0.0)
    assert len(tc) == 3 and (np.diff(tc["prob"]) <= 0).all()
    assert rmap.top_cells(pred, fake_predictor.cells.table, min_prob=1.1).empty


def test_compare_and_verdict(pred, fake_predictor):
    other = fake_predictor.predict(Image.new("RGB", (80, 60), (250, 10, 10)))
    c = pl.compare(pred, other, rs.Truth(45.8, 16.0, "t"))
    assert c["moved_km"] == pytest.approx(haversine_km(pred.lat, pred.lon, other.lat, other.lon))
    assert {"km_before", "km_after", "score_before", "score_after"} <= set(c)
    # both confidences are of the SAME country: the one predicted before hiding
    code = pred.country_code
    assert c["conf_before"] == pytest.approx(pred.country_probs[0][2])
    assert c["conf_after"] == pytest.approx(next(p for cc, _n, p in other.country_probs if cc == code))
    same = pl.compare(pred, pred, None)
    assert same["moved_km"] == 0 and not same["country_changed"]
    assert "hardly changed" in pl.shortcut_verdict(same)


def test_a_ten_point_move_is_not_called_unchanged(pred):
    """Issue 22.11: 'barely changed' was said of a 10-point move (the cut-off was 15 points)."""
    before = _pred_like(pred, {"AU": 0.50, "US": 0.30, "HR": 0.20})
    after = _pred_like(pred, {"AU": 0.40, "US": 0.35, "HR": 0.25})
    v = pl.shortcut_verdict(pl.compare(before, after, None))
    assert "changed" not in v and "less sure by 10 points" in v and "Australia: 50% → 40%" in v
    small = pl.shortcut_verdict(pl.compare(before, _pred_like(pred, {"AU": 0.48, "US": 0.32, "HR": 0.20}), None))
    assert "hardly changed" in small and "under 5 points" in small


def _pred_like(pred, probs: dict[str, float]):
    """``pred`` with other country probabilities (most likely first)."""
    from dataclasses import replace

    names = {"AU": "Australia", "US": "United States", "HR": "Croatia"}
    cp = sorted(((c, names[c], p) for c, p in probs.items()), key=lambda t: -t[2])
    return replace(pred, country_probs=cp, country_code=cp[0][0], country=cp[0][1])


def test_compare_uses_the_same_country_when_the_answer_flips(pred):
    """The issue's case: Australia 47% -> United States 86% was shown as '+39 pts'."""
    before = _pred_like(pred, {"AU": 0.47, "US": 0.30, "HR": 0.23})
    after = _pred_like(pred, {"US": 0.86, "AU": 0.10, "HR": 0.04})
    c = pl.compare(before, after, None)
    assert c["country_changed"] and (c["conf_before"], c["conf_after"]) == (0.47, 0.10)
    assert c["top_after"] == 0.86 and c["country_after"] == "United States"
    v = pl.shortcut_verdict(c)
    assert "United States (86%)" in v and "Australia: 47% → 10%" in v and "carried much of the evidence" in v
    # the hidden version itself out of distribution: no claim about the evidence
    odd = pl.shortcut_verdict(c, masked_unusual=True)
    assert "carried" not in odd and "cannot say" in odd and "Australia: 47% → 10%" in odd
    missing = pl.compare(before, _pred_like(pred, {"US": 0.9, "HR": 0.1}), None)
    assert missing["conf_after"] == 0.0
    surer = pl.compare(before, _pred_like(pred, {"AU": 0.8, "US": 0.1, "HR": 0.1}), None)
    assert "surer" in pl.shortcut_verdict(surer)


def test_place_label_without_repeats():
    assert fm.place_label("Iowa", "Iowa", "United States") == "Iowa, United States"
    assert fm.place_label("Split", "Splitsko-Dalmatinska", "Croatia") == "Split, Splitsko-Dalmatinska, Croatia"
    assert fm.place_label("Grad Zagreb", "Zagreb", "Croatia") == "Grad Zagreb, Croatia"
    assert fm.place_label("Singapore", "", "Singapore") == "Singapore"
    assert fm.place_label("Texas (north)", "Texas", "nan") == "Texas (north)"


def test_testset_label_is_for_people():
    row = pd.Series({"paths": ["a", "b", "c", "d"], "country": "Croatia", "admin1": "Splitsko-Dalmatinska",
                     "source": "gsv_strips"})
    assert pl.testset_label(0, row) == "#1: Croatia, Splitsko-Dalmatinska (4 views)"
    one = pd.Series({"paths": ["a"], "country": "Iowa", "admin1": "Iowa", "source": "gsv_small"})
    assert pl.testset_label(4, one) == "#5: Iowa (1 view)"


def test_out_of_range_coordinates_say_which_number_is_wrong():
    with pytest.raises(pl.OutOfRange) as e:
        pl.parse_latlon("10, 200")
    msg = str(e.value)
    assert msg == "coordinates out of range: longitude 200 is not between -180 and 180"
    with pytest.raises(pl.OutOfRange, match="latitude 95 is not between -90 and 90 and longitude -200"):
        pl.parse_latlon("95, -200")


def test_ood_message():
    from model.ood import Assessment

    odd = Assessment(np.array([0.95, 0.9]), 0.925, 0.84, True, [0, 1], 0.01)
    kind, text = pl.ood_message(odd, ["a.jpg", "b.jpg"])
    assert kind == "warning" and "does not look like a street-level photo" in text and "99%" in text
    assert "(distance 0.93 from the training photos; 99% of held-out street photos: 0.84 or less)" in text
    one = Assessment(np.array([0.6, 0.9]), 0.75, 0.84, False, [1], 0.01)
    kind, text = pl.ood_message(one, ["a.jpg", "b.jpg"])
    assert kind == "info" and "'b.jpg'" in text and "'a.jpg'" not in text
    # the raw distances come with what they mean, never as a bare "0.90 > 0.84" (issue 22.11)
    assert "0.90 > 0.84" not in text and "further from them than 99% of held-out street photos" in text
    assert pl.ood_message(Assessment(np.array([0.5]), 0.5, 0.84, False, [], 0.01), ["a"]) is None
    assert pl.ood_message(None, ["a"]) is None


# ----------------------------------------------------------------------------------- sources
def test_load_uploads(shared_test_image):
    path, lat, lon = shared_test_image
    good = path.read_bytes()
    gps = jpeg_with_gps(path, -33.8568, 151.2153)
    lv = photos.load_uploads([("a.jpg", good), ("broken.jpg", b"not an image"), ("x.gif", b"GIF89a"),
                               ("b.jpg", gps), ("empty.png", b"")])
    assert lv.names == ["a.jpg", "b.jpg"] and len(lv.images) == 2
    assert len(lv.errors) == 3
    assert any(e.startswith("broken.jpg: named .jpg but cannot be read") for e in lv.errors)
    assert any(e.startswith("x.gif: named .gif but cannot be read") for e in lv.errors)
    assert lv.gps == pytest.approx((-33.8568, 151.2153), abs=1e-3) and lv.gps_from == "b.jpg"


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_other_formats_are_read_or_refused_with_the_reason(shared_test_image):
    """GIF (first frame, with a note), BMP, TIFF, AVIF and a JPEG named .jfif are read; HEIC, videos,
    PDFs and SVGs are refused with a reason that says what to do."""
    path, _, _ = shared_test_image
    img = Image.open(path).convert("RGB")
    frames = [img, img.transpose(Image.Transpose.ROTATE_180), img]
    anim = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    files = [("anim.gif", anim), ("still.gif", _encode(img, "GIF")), ("a.bmp", _encode(img, "BMP")),
             ("a.tiff", _encode(img, "TIFF")), ("a.avif", _encode(img, "AVIF")), ("a.jfif", path.read_bytes())]
    lv = photos.load_uploads(files)
    assert lv.names == [n for n, _ in files] and not lv.errors
    assert any(n.startswith("anim.gif") and "3 frames" in n and "first one is used" in n for n in lv.notes)
    assert any(n.startswith("still.gif") and "256 colours" in n for n in lv.notes)
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    bad = photos.load_uploads([("IMG_0001.HEIC", heic), ("clip.mp4", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 40),
                                ("doc.pdf", b"%PDF-1.7 ..."), ("map.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
                                ("notes.txt", b"hello")])
    assert not bad.images and len(bad.errors) == 5
    e = dict(zip(["heic", "mp4", "pdf", "svg", "txt"], bad.errors))
    assert "IMG_0001.HEIC" in e["heic"] and "export it as JPEG" in e["heic"] and "cannot be decoded" in e["heic"]
    assert "video" in e["mp4"] and "PDF" in e["pdf"] and "SVG" in e["svg"]
    assert "notes.txt" in e["txt"] and "not a recognised image format" in e["txt"]


def test_an_iphone_heic_photo_is_read_with_its_gps():
    """HEIC through pi-heif (a dependency): decoded, and its EXIF GPS read like a JPEG's."""
    from pathlib import Path

    heic = (Path(__file__).parents[2] / "model" / "collect" / "data" / "sydney_gps.heic").read_bytes()
    lv = photos.load_uploads([("IMG_0002.HEIC", heic)])
    assert lv.names == ["IMG_0002.HEIC"] and not lv.errors and lv.images[0].size == (64, 48)
    assert lv.gps == pytest.approx((-33.8568, 151.2153), abs=1e-4)


def test_prepare_views_refuses_tiny_splits_wide_and_panoramas(shared_test_image):
    from app.predict.prepare import needs_split_choice, prepare_views

    path, _, _ = shared_test_image
    street = Image.open(path).convert("RGB")
    lv = photos.LoadedViews(images=[Image.new("RGB", (1, 1), (128, 128, 128)), street.resize((4000, 120)),
                                     Image.new("RGB", (2048, 1024), (90, 120, 160)), street],
                             names=["pixel.png", "strip.png", "pano.jpg", "street.jpg"], blobs=[b"", b"", b"", b""])
    assert needs_split_choice(lv)
    p = prepare_views(lv, 260)
    assert len(p.refused) == 1 and p.refused[0].startswith("pixel.png (1x1 px) is too small") and "260x" in p.refused[0]
    assert p.kinds == ["tiles", "panorama", "whole"]
    assert len(p.images) == 8 + 4 + 1 and p.names[0] == "strip.png · tile 1/8" and p.names[-1] == "street.jpg"
    assert len(p.warnings) == 1 and "strip.png: each of its 120x120-px tiles is small" in p.warnings[0]
    assert any("perspective views" in n for n in p.notes) and any("8 square tiles" in n for n in p.notes)
    whole = prepare_views(lv, 260, mode="whole")
    assert whole.kinds == ["whole"] * 3 and len(whole.images) == 3
    assert not needs_split_choice(photos.LoadedViews(images=[street], names=["s"], blobs=[b""]))
    thin = prepare_views(photos.LoadedViews(images=[street.resize((3000, 50))], names=["thin.png"], blobs=[b""]), 260)
    assert not thin.images and "thin.png (3000x50 px) is too small" in thin.refused[0]


def test_test_locations_groups_views(tmp_path):
    for n in ("a0", "a1", "b0"):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{n}.jpg")
    df = pd.DataFrame({"location_id": ["a", "a", "b", "c", "d"], "group_id": ["g1", "g1", "g2", "g3", "g4"],
                       "view": [1, 0, 0, 0, 0],
                       "split": ["test", "test", "test", "train", "test"],
                       "lat": [1.0, 1.0, 2.0, 3.0, np.nan], "lon": [1.0, 1.0, 2.0, 3.0, np.nan],
                       "country": ["X"] * 5, "admin1": [""] * 5, "source": ["s"] * 5,
                       "path": [str(tmp_path / f) for f in ("a1.jpg", "a0.jpg", "b0.jpg", "a0.jpg", "a0.jpg")]})
    t = testset.test_locations(df)
    assert list(t["location_id"]) == ["a", "b"] and list(t["group_id"]) == ["g1", "g2"]
    assert [p.rsplit("/", 1)[1] for p in t.iloc[0]["paths"]] == ["a0.jpg", "a1.jpg"]
    lv = photos.load_paths(list(t.iloc[0]["paths"]) + [str(tmp_path / "missing.jpg")])
    assert len(lv.images) == 2 and "missing.jpg" in lv.errors[0]
    assert testset.test_locations(df[df["split"] == "train"]).empty


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
    from model.collect.streetview import LinkError

    with pytest.raises(LinkError):
        sources.request_from_link("https://example.com/x", 0, 0, 90)


def test_error_messages_are_specific_and_key_free():
    from model.collect import streetview as sv

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
    lv = photos.load_uploads([("huge.png", buf.getvalue())])
    assert not lv.images and len(lv.errors) == 1
    assert "huge.png" in lv.errors[0] and "too large" in lv.errors[0]


def test_crop_note():
    assert "bottom 15%" in model_card.crop_note({"crop": 0.15})
    note = model_card.crop_note({"crop": 0.0})
    assert "Nothing is cropped" in note and "centre square" in note and "whole picture" not in note
    assert model_card.crop_note(None) == ""
