"""Issue 21 (Explore part): two evaluations of the same places compared with paired bootstrap intervals
(model.evaluation.compare) on each headline and per country, only on the places both hold with the same
truth; and the Compare tab of the page on the shipped evaluation against another one."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from app.common import shipped
from model.evaluation import compare as cp
from tests.app.apphelpers import DEFAULT_MODEL
from tests.app.explore.pages import open_explore


def _rows(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = rng.lognormal(7, 1, n)
    return pd.DataFrame({"location_id": [f"p{i}" for i in range(n)], "source": "s",
                         "true_country": rng.choice(["HR", "US", "FR"], n), "true_lat": rng.uniform(-60, 60, n),
                         "true_lon": rng.uniform(-180, 180, n), "correct": rng.random(n) < 0.5,
                         "distance_km": d, "score": 5000 * np.exp(-d / 1492.7)})


def test_pairs_only_the_same_places_with_the_same_truth():
    a = _rows(10)
    b = a.iloc[2:].copy()  # p0, p1 only in A
    b = pd.concat([b, _rows(1, 5).assign(location_id="extra")])  # one only in B
    b.loc[b["location_id"] == "p5", "true_lat"] += 1.0  # p5 is another place in B (111 km away)
    b.loc[b["location_id"] == "p6", "true_country"] = "XX"
    p = cp.pair(a, b)
    assert (p.only_a, p.only_b, p.truth_differs, p.n) == (2, 1, 2, 6)
    assert set(p.frame["location_id"]) == {"p2", "p3", "p4", "p7", "p8", "p9"}


def test_paired_bootstrap_of_a_constant_shift_is_exact_and_pairing_narrows_the_interval():
    a = _rows(80)["distance_km"].to_numpy()
    d = cp.paired_bootstrap(a, a - 100.0, "mean")
    assert d.diff == pytest.approx(-100.0) and d.lo == pytest.approx(-100.0) and d.hi == pytest.approx(-100.0)
    assert d.n == 80 and d.verdict(lower_is_better=True) == "B better"
    rng = np.random.default_rng(1)
    b = a * rng.uniform(0.9, 1.05, len(a))  # correlated with A, 2.5 % lower on average
    paired = cp.paired_bootstrap(a, b, "mean")
    ia = cp.paired_bootstrap(a, a, "mean")
    assert ia.lo == ia.hi == 0.0 and ia.verdict() == "no clear difference"
    # unpaired: the two means' own spreads add up; paired removes the place-to-place spread both share
    unpaired_width = 2 * 1.96 * math.sqrt(a.var() / len(a) + b.var() / len(b))
    assert paired.hi - paired.lo < 0.5 * unpaired_width
    same = cp.paired_bootstrap([1.0, np.nan, 3.0], [2.0, 5.0, np.nan], "median")
    assert same.n == 1 and math.isnan(same.lo)  # NaN pairs dropped; no interval from one pair
    with pytest.raises(ValueError):
        cp.paired_bootstrap([1.0], [1.0, 2.0])


def test_headline_and_per_country_figures():
    a = _rows(120)
    b = a.copy()
    b["distance_km"] = a["distance_km"] * 0.5
    b["score"] = 5000 * np.exp(-b["distance_km"] / 1492.7)
    b["correct"] = True
    p = cp.pair(a, b)
    t = cp.headline(p).set_index("metric")
    assert list(t.index) == ["Country accuracy", "Median error", "Mean GeoGuessr score"]
    assert t.loc["Country accuracy", "verdict"] == "B better" and t.loc["Median error", "verdict"] == "B better"
    assert t.loc["Median error", "diff"] == pytest.approx(-0.5 * a["distance_km"].median())
    assert t.loc["Mean GeoGuessr score", "lo"] > 0 and t["n"].tolist() == [120, 120, 120]
    pc = cp.per_country(p).set_index("country")
    assert pc["n"].sum() == 120 and set(pc.index) == {"HR", "US", "FR"}
    assert (pc["acc_b"] == 1.0).all() and (pc["acc_lo"] > 0).all() and pc["indicative"].all() == (pc["n"] < 30).all()
    assert cp.fmt_diff(0.021, -0.017, 0.058, "%") == "+2.1 pts (95% CI −1.7 to +5.8)"
    assert cp.fmt_diff(-120.0, -260.0, 10.0, "km") == "−120 km (95% CI −260 to +10)"


def test_location_rows_read_a_predictions_file(tmp_path):
    pred = pd.DataFrame({"image": ["a0", "a1", "b0"], "location_id": ["a", "a", "b"], "source": "s",
                         "true_country": ["HR", "HR", ""], "loc_pred_country": ["HR", "HR", "FR"],
                         "true_lat": [45.0, 45.0, np.nan], "true_lon": [16.0, 16.0, np.nan],
                         "loc_distance_km": [10.0, 10.0, np.nan], "loc_score": [4966.0, 4966.0, np.nan]})
    pred.to_csv(tmp_path / "predictions.csv", index=False)
    r = cp.read_locations(tmp_path).set_index("location_id")
    assert len(r) == 2 and bool(r.loc["a", "correct"]) and not bool(r.loc["b", "correct"])
    assert r.loc["a", "distance_km"] == 10.0 and math.isnan(r.loc["b", "score"])


def _better_copy(folder) -> None:
    """An evaluation of the same places as the shipped one, 20 % closer everywhere (what another model
    would write with python -m model.evaluate --out)."""
    p = pd.read_csv(shipped.sidecar_dir(DEFAULT_MODEL) / "predictions.csv.gz", keep_default_na=False, dtype=str)
    d = pd.to_numeric(p["loc_distance_km"], errors="coerce") * 0.8
    p["loc_distance_km"] = d.map(lambda v: "" if v != v else f"{v:.6f}")
    p["loc_score"] = (5000 * np.exp(-d / 1492.7)).map(lambda v: "" if v != v else f"{v:.6f}")
    folder.mkdir()
    p.to_csv(folder / "predictions.csv", index=False)


def test_the_compare_tab_on_the_shipped_evaluation(no_data):
    b = no_data / "other-model"
    _better_copy(b)
    at = open_explore("Compare", ex_cmp_pick="__folder__", ex_cmp_folder=str(b))
    assert any(m.value.startswith("**241 places in both**") for m in at.markdown)
    head = next(d.value for d in at.dataframe if "B − A (95% CI)" in d.value.columns).set_index("Metric")
    assert head.loc["Country accuracy", "Verdict"] == "no clear difference"  # same countries
    assert head.loc["Median error", "Verdict"] == "B better" and head.loc["Median error", "n"] == 195
    assert "95% CI" in head.loc["Mean GeoGuessr score", "B − A (95% CI)"]
    per = next(d.value for d in at.dataframe if "Accuracy B" in d.value.columns)
    assert per["n"].sum() == 241 and "Croatia" in set(per["Country"])
    # the filters on A's answers are not applied (they would favour B); country and source are
    at = open_explore("Compare", ex_cmp_pick="__folder__", ex_cmp_folder=str(b), ex_f_country=["HR"],
                      ex_f_rw="Wrong country")
    n_hr = int((cp.read_locations(b)["true_country"] == "HR").sum())
    assert any(m.value.startswith(f"**{n_hr} places in both**") for m in at.markdown)
    assert any("not applied here" in c.value for c in at.caption)


def test_copies_of_the_explored_evaluation_are_not_offered_as_b(no_data, tmp_path):
    """The walk found the tab comparing the shipped evaluation with its own installed copy (every difference
    +0): a folder holding the same predictions (gzipped or not) is not a B; with none left the tab says how to
    make one."""
    import gzip
    import shutil

    from app.explore import provenance as pv

    side = shipped.sidecar_dir(DEFAULT_MODEL)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "predictions.csv").write_bytes(gzip.decompress((side / "predictions.csv.gz").read_bytes()))
    assert pv.predictions_digest(copy) == pv.predictions_digest(side)
    assert side.resolve() not in pv.other_evaluations(copy)
    other = tmp_path / "other"
    _better_copy(other)
    assert pv.predictions_digest(other) != pv.predictions_digest(side)
    shutil.rmtree(other)
    at = open_explore("Compare")
    opts = next(s for s in at.selectbox if s.key == "ex_cmp_pick").options
    assert all("(shipped)" not in o for o in opts), opts  # the shipped sidecar is what A is
    assert any("No other evaluation of these places" in i.value for i in at.info)
    assert any("python -m model.evaluate --model geoclip --split test" in c.value for c in at.code)
