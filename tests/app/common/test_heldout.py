"""The held-out counts every page words (app.common.heldout): one function, the same numbers as what Play
plays and Predict offers, on small made-up manifests and on the real shared test split."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.common.heldout import count_heldout, explain, page_line


def _rows(tmp_path) -> pd.DataFrame:
    """Seven test places and one train place: A/B share a group, C has no coordinates, D's file is
    missing, E's group is a training group, F has two views (one missing), G is ordinary."""
    (tmp_path / "ok.jpg").write_bytes(b"x")
    ok, gone = str(tmp_path / "ok.jpg"), str(tmp_path / "gone.jpg")
    rows = [("A", "g1", 1.0, ok), ("B", "g1", 1.0, ok), ("C", "gC", np.nan, ok), ("D", "gD", 2.0, gone),
            ("E", "gE", 3.0, ok), ("F", "gF", 4.0, gone), ("F", "gF", 4.0, ok), ("G", "gG", 5.0, ok)]
    df = pd.DataFrame(rows, columns=["location_id", "group_id", "lat", "path"])
    df["lon"] = df["lat"]
    df["split"] = "test"
    return pd.concat([df, pd.DataFrame([{"location_id": "T", "group_id": "gT", "lat": 0.0, "lon": 0.0, "path": ok,
                                         "split": "train"}])], ignore_index=True)


def test_each_step_of_the_chain(tmp_path):
    h = count_heldout(_rows(tmp_path), "test", train_groups={"gE"})
    assert (h.locations, h.images, h.with_coords, h.label_only) == (7, 8, 6, 1)
    assert h.missing_files == 1 and h.in_training_groups == 1  # D; E
    assert h.pickable == 4 and h.playable == 3 and h.same_group == 1  # A, B, F, G; A and B share g1
    assert count_heldout(_rows(tmp_path), "test", check_files=False).pickable == 6
    assert count_heldout(_rows(tmp_path), "train").locations == 1
    assert count_heldout(_rows(tmp_path).iloc[0:0]).locations == 0
    text = explain(h)
    assert "7 places (8 images)" in text and "6 of them have coordinates" in text and "the other 1" in text
    assert "offers 4 of them (not the 1 whose images are missing" in text and "Play plays 3" in text


def test_a_split_without_coordinates_counts_label_only_places(tmp_path):
    """A manifest whose test places carry no coordinates (country labels only): every place is label-only and
    none is offered or played; this raised KeyError (an empty list mask selected no columns), which crashed
    Explore and hid the breakdown on Predict and About."""
    rows = _rows(tmp_path).assign(lat=np.nan, lon=np.nan)
    h = count_heldout(rows, "test")
    assert (h.locations, h.with_coords, h.label_only, h.pickable, h.playable) == (7, 0, 7, 0, 0)
    assert "the other 7 are labelled with a country only" in explain(h)


def test_page_lines_name_their_own_number(tmp_path):
    h = count_heldout(_rows(tmp_path), "test", train_groups={"gE"})
    assert page_line(h, "explore").startswith("7 test places: 6 with coordinates")
    assert page_line(h, "predict").startswith("4 held-out test places with coordinates (7 in the test split)")
    assert page_line(h, "play").startswith("3 held-out places to play: one per group of places within 1 km among the "
                                           "4 test places")
    with pytest.raises(ValueError):
        page_line(h, "nowhere")


def test_shared_test_split_matches_what_play_and_predict_use():
    """On the real data the breakdown equals what the pages compute their own way: Play's pool of rounds,
    Predict's test-set picker, Explore's evaluated locations (241 / 195 / 182 when this was written)."""
    from app.play.game import region_pool
    from app.play.logic import playable_locations
    from app.common.testset import test_locations
    from model.data.manifest import ManifestError, read_manifest
    from tests.app.apphelpers import SHARED

    try:
        df = read_manifest(SHARED / "manifest.csv")
    except (ManifestError, OSError):
        pytest.skip("shared data not found")
    h = count_heldout(df)
    test = df[df["split"] == "test"]
    assert h.locations == test["location_id"].nunique() and h.images == len(test)
    assert h.pickable == len(test_locations(df))
    assert h.playable == len(region_pool(playable_locations(df), "world"))
    assert h.label_only == test[test["lat"].isna()]["location_id"].nunique() > 0
    assert h.locations > h.pickable > h.playable
    text = explain(h)
    for n in (h.locations, h.with_coords, h.label_only, h.playable, h.same_group):
        assert f"{n:,}" in text


def test_every_page_words_the_same_breakdown(real_predictor, monkeypatch, tmp_path):
    """Predict, Play, Explore and About show their own count of the one breakdown, with the whole chain
    one hover away (the captions' help)."""
    from streamlit.testing.v1 import AppTest

    from app.common.heldout import heldout_for
    from model.data.manifest import ManifestError
    from tests.app.apphelpers import MAIN, SHARED

    if not (SHARED / "manifest.csv").is_file():
        pytest.skip("shared data not found")
    monkeypatch.setenv("GEOLOC_DATA", str(SHARED / "manifest.csv"))
    monkeypatch.setenv("GEOLOC_EXPLORE_CACHE", str(tmp_path / "cache"))
    try:
        h = heldout_for(None, real_predictor.train_groups)
    except ManifestError:
        pytest.skip("no data")
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.run()
    assert any(page_line(h, "predict") in c.value and c.help == explain(h) for c in at.caption)
    at.switch_page("app_pages/play.py").run()
    assert any(page_line(h, "play") in c.value and c.help == explain(h) for c in at.caption)
    at.switch_page("app_pages/about.py").run()
    assert any(explain(h) in m.value for m in at.markdown)
    if real_predictor.path.name == "default.pt":  # the shipped evaluation opens Explore at once
        at.switch_page("app_pages/explore.py").run()
        assert any(page_line(h, "explore") in c.value and c.help == explain(h) for c in at.caption)
