"""Issue 22.10 (Explore): a calibration of the expected error, the model's forecast of its own error
(expected_km of M; the expected score of E) against what it made, by equal-count bins with n and 95 %
intervals (app.explore.error_calibration and the Calibration tab)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.common import shipped
from app.explore import data as xd
from app.explore import error_calibration as ec
from tests.app.apphelpers import DEFAULT_MODEL
from tests.app.explore.pages import open_explore


def test_bins_of_a_calibrated_forecast_sit_on_the_diagonal():
    rng = np.random.default_rng(0)
    f = rng.uniform(100, 5000, 600)
    a = rng.exponential(f)  # the mean error of a place forecast f km is f km
    bins = ec.forecast_bins(f, a, 6)
    assert len(bins) == 6 and bins["n"].sum() == 600 and (bins["n"] == 100).all()  # equal counts
    assert (bins["lo"].diff().dropna() > 0).all()
    inside = (bins["forecast"] >= bins["actual_lo"]) & (bins["forecast"] <= bins["actual_hi"])
    assert inside.sum() >= 5
    assert ec.verdict(bins).startswith(f"In {int(inside.sum())} of 6 bins")
    o = ec.overall(f, a)
    assert o["n"] == 600 and 0.9 < o["ratio"] < 1.1 and o["rank"] > 0.3
    worse = ec.forecast_bins(f, 3 * a, 6)  # three times as wrong as it says
    assert (worse["actual_lo"] > worse["forecast"]).sum() >= 5 and "more wrong than it says" in ec.verdict(worse)


def test_few_places_make_fewer_bins_and_nan_is_left_out():
    bins = ec.forecast_bins([1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0], [1, 2, 3, np.nan, 5, 6, 7], 6)
    assert len(bins) == 1 and bins["n"].iloc[0] == 5
    assert ec.forecast_bins([], [], 6).empty and ec.overall([], [])["n"] == 0
    with pytest.raises(ValueError):
        ec.forecast_bins([1.0], [1.0, 2.0])


def test_expected_error_of_old_files_is_taken_only_where_it_is_the_places_own():
    """predictions.csv without loc_expected_km: a one-view place's image figure is its own; a fused one is not."""
    pred = pd.DataFrame({"image": ["a0", "a1", "b0"], "location_id": ["a", "a", "b"], "expected_km": [10.0, 20.0, 30.0],
                         "true_lat": [1.0, 1.0, 2.0], "true_lon": [1.0, 1.0, 2.0], "loc_distance_km": [5.0, 5.0, 6.0]})
    locs = xd.location_table(pred).set_index("location_id")
    assert np.isnan(locs.loc["a", "expected_km"]) and locs.loc["b", "expected_km"] == 30.0
    locs = xd.location_table(pred.assign(loc_expected_km=[15.0, 15.0, 30.0])).set_index("location_id")
    assert locs.loc["a", "expected_km"] == 15.0


def test_the_calibration_tab_shows_the_expected_error(no_data):
    locs = xd.load_evaluation(shipped.sidecar_dir(DEFAULT_MODEL)).locations
    at = open_explore("Calibration")
    assert any(h.value == "Is it as wrong as it says?" for h in at.subheader)
    n_km = int((locs["expected_km"].notna() & locs["distance_km"].notna()).sum())
    assert next(m.value for m in at.metric if m.label == "Places") == f"{n_km:,}"
    assert any("95% CI" in (m.delta or "") for m in at.metric if m.label == "Actual (mean)")
    n_xy = int(locs["distance_km"].notna().sum())
    says_only = any("Only" in c.value and "carry the expected error" in c.value for c in at.caption)
    assert says_only == (n_km < n_xy)  # names the places left out, exactly when some are
    at.radio(key="ex_cal_fc").set_value("score").run()
    assert not at.exception, at.exception
    assert next(m.value for m in at.metric if m.label == "Places") == f"{int(locs['best_score'].notna().sum()):,}"
    table = next(d.value for d in at.dataframe if "Forecast (mean)" in d.value.columns)
    assert table["n"].sum() == int(locs["best_score"].notna().sum())
