"""Aggregation logic of the Explore page: buckets, filters, per-country accuracy, confusion, calibration."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.explore import stats as xs


def test_bucket_edges_belong_to_the_lower_bucket_and_nan_is_unknown():
    d = [0.0, 1.0, 1.01, 25.0, 199.9, 200.0, 750.0, 751.0, 2500.0, 2500.1, 19000.0, float("nan")]
    assert xs.bucket_index(d).tolist() == [0, 0, 1, 1, 2, 2, 3, 4, 4, 5, 5, -1]
    assert xs.bucket_color(-1) == xs.UNKNOWN_COLOR and xs.bucket_color(0) == xs.BUCKET_COLORS[0]


def test_bucket_counts_share_over_located_rows(locs):
    c = xs.bucket_counts(locs)
    assert c["n"].tolist() == [1, 2, 1, 2, 2, 1]  # 0.5 | 20, 25 | 150 | 260, 400 | 800, 900 | 3000 (NaN left out)
    assert c["share"].sum() == pytest.approx(1.0)


def test_error_range_labels():
    assert xs.error_range("0 km", "any") == (0.0, None)
    assert xs.error_range("25 km", "750 km") == (25.0, 750.0)
    assert xs.error_range("any", "any") == (2500.0, None)
    with pytest.raises(ValueError):
        xs.error_range("3 km", "any")


def test_filters_each_dimension(locs):
    f = xs.apply_filters
    assert len(f(locs, xs.Filters())) == 10
    assert set(f(locs, xs.Filters(countries=("NO",)))["location_id"]) == {"L0", "L1", "L2"}
    assert set(f(locs, xs.Filters(sources=("screenshots", "screenshots_ui")))["location_id"]) == {"L6", "L7", "L8"}
    right = f(locs, xs.Filters(right_wrong="Right country"))
    wrong = f(locs, xs.Filters(right_wrong="Wrong country"))
    assert right["correct"].all() and not wrong["correct"].any() and len(right) + len(wrong) == 10
    assert "L8" in set(wrong["location_id"])  # unknown truth is never "right"
    mid = f(locs, xs.Filters(min_km=25.0, max_km=750.0))
    assert sorted(mid["distance_km"]) == [25.0, 150.0, 260.0, 400.0]  # inclusive; NaN distance dropped
    far = f(locs, xs.Filters(min_km=2500.0))
    assert far["location_id"].tolist() == ["L6"]
    conf = f(locs, xs.Filters(min_conf=0.35, max_conf=0.6))
    assert sorted(conf["confidence"]) == [0.35, 0.4, 0.55, 0.6]
    both = f(locs, xs.Filters(countries=("NO",), right_wrong="Wrong country", max_km=500.0))
    assert both["location_id"].tolist() == ["L0"]
    with pytest.raises(ValueError):
        f(locs, xs.Filters(right_wrong="maybe"))


def test_summary_numbers(locs):
    s = xs.summary(locs)
    assert s["n"] == 10
    assert s["country_acc"] == pytest.approx(5 / 9)  # 9 labelled: NO, FI, HR, BR, JP right
    assert s["median_km"] == pytest.approx(260.0)
    assert s["acc_750km"] == pytest.approx(6 / 9)
    empty = xs.summary(locs.iloc[0:0])
    assert empty["n"] == 0 and math.isnan(empty["country_acc"]) and math.isnan(empty["median_km"])


def test_per_country_accuracy_and_top_confusion(locs):
    pc = xs.per_country(locs).set_index("country")
    assert "" not in pc.index
    assert pc.loc["NO", "n"] == 3 and pc.loc["NO", "accuracy"] == pytest.approx(1 / 3)
    assert pc.loc["NO", "top_confusion"] == "FI" and pc.loc["NO", "top_confusion_n"] == 2
    assert pc.loc["FI", "accuracy"] == 1.0 and pc.loc["FI", "top_confusion"] == ""
    assert pc.loc["HR", "median_km"] == pytest.approx(205.0)
    assert xs.per_country(locs).iloc[0]["country"] == "NO"  # most locations first


def test_confusion_counts_and_members(locs):
    c = xs.confusion_counts(locs)
    row = c[(c["true"] == "NO") & (c["pred"] == "FI")].iloc[0]
    assert row["n"] == 2 and row["row_share"] == pytest.approx(2 / 3)
    assert c.groupby("true")["row_share"].sum().round(9).eq(1.0).all()
    assert "" not in set(c["true"])  # unknown truth left out
    top = xs.top_confusions(c, k=2)
    assert (top.iloc[0]["true"], top.iloc[0]["pred"], top.iloc[0]["n"]) == ("NO", "FI", 2)
    assert (top["true"] != top["pred"]).all()
    m = xs.confusion_members(locs, "NO", "FI")
    assert m["location_id"].tolist() == ["L0", "L1"]


def test_confusion_folds_rare_classes_into_other(locs):
    c = xs.confusion_counts(locs, max_classes=2)  # NO (3) and HR (2) keep their labels
    assert set(c["true"]) == {"NO", "HR", "other"}
    assert c[(c["true"] == "NO") & (c["pred"] == "other")]["n"].item() == 2  # FI is folded
    assert c["n"].sum() == 9
    m = xs.confusion_members(locs, "other", "other", max_classes=2)
    assert set(m["true_country"]) == {"FI", "US", "BR", "JP"}


def test_confusion_of_cells_uses_names(locs):
    names = [f"cell-{i}" for i in range(9)]
    c = xs.confusion_counts(locs, level="cell", names=names)
    assert c[(c["true"] == "cell-0") & (c["pred"] == "cell-1")]["n"].item() == 2
    assert set(xs.confusion_counts(locs, level="cell")["true"]) >= {"cell 0", "cell 2"}
    with pytest.raises(ValueError):
        xs.confusion_counts(locs, level="admin1")


def test_selection_pair_from_altair_event():
    assert xs.selection_pair({"selection": {"pick": [{"true": "NO", "pred": "FI"}]}}) == ("NO", "FI")
    assert xs.selection_pair({"selection": {"pick": []}}) is None
    assert xs.selection_pair({"selection": {}}) is None
    assert xs.selection_pair(None) is None


def test_reliability_perfectly_calibrated_and_overconfident():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 20000)
    ok = rng.uniform(0, 1, 20000) < conf  # right with probability = confidence
    bins, ece = xs.reliability(conf, ok, 10)
    assert len(bins) == 10 and bins["n"].sum() == 20000
    assert ece < 0.02 and (bins["gap"].abs() < 0.05).all()
    bins, ece = xs.reliability(np.full(100, 0.9), np.arange(100) < 30, 10)  # says 90 %, right 30 %
    assert len(bins) == 1 and bins.iloc[0]["bin"] == 9
    assert ece == pytest.approx(0.6) and bins.iloc[0]["gap"] == pytest.approx(-0.6)


def test_reliability_edges():
    bins, _ = xs.reliability([0.0, 1.0, 0.1, 0.1], [False, True, True, False], 10)
    assert bins["bin"].tolist() == [0, 1, 9]  # 1.0 falls in the last bin
    assert bins.set_index("bin").loc[1, "accuracy"] == 0.5
    bins, ece = xs.reliability([], [], 10)
    assert bins.empty and ece == 0.0


def test_calibration_inputs(locs):
    c, ok = xs.calibration_inputs(locs, "country")
    assert len(c) == 9 and ok.sum() == 5
    c, ok = xs.calibration_inputs(locs, "cell")
    assert len(c) == 10 and c[0] == pytest.approx(0.275)
