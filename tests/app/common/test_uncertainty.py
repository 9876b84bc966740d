"""Sample sizes and 95 % intervals (app.common.uncertainty) and the figures built on them: calibration
bins, per-country precision / recall / F1, the shortcut audit's findings, the similarity filter."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from app.explore import audit_view as av
from app.explore import embed as xe
from app.explore import stats as xs
from app.common import uncertainty as un
from tests.app.explore.conftest import ten_locations


def _wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return c - h, c + h


@pytest.mark.parametrize("k,n", [(0, 10), (2, 8), (113, 241), (241, 241)])
def test_wilson_matches_the_formula(k, n):
    e = un.wilson(k, n)
    lo, hi = _wilson_by_hand(k, n)
    assert (e.lo, e.hi) == pytest.approx((lo, hi), abs=1e-9) and e.value == k / n and e.n == n
    assert e.indicative == (n < un.SMALL_N)
    assert math.isnan(un.wilson(0, 0).value)


def test_bootstrap_interval_holds_the_statistic_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small = un.bootstrap(rng.exponential(1500, 20), np.median)
    big = un.bootstrap(rng.exponential(1500, 2000), np.median)
    assert small.lo <= small.value <= small.hi and big.lo <= big.value <= big.hi
    assert big.hi - big.lo < (small.hi - small.lo) / 4
    assert un.bootstrap([np.nan, 3.0]).n == 1 and math.isnan(un.bootstrap([3.0]).lo)
    assert un.bootstrap([2.0, 2.0, 2.0]).lo == 2.0  # no spread, no interval width
    assert un.bootstrap(np.arange(50.0)).value == un.bootstrap(np.arange(50.0)).value  # seeded: no flicker


def test_paired_change_and_wording():
    before, after = [1] * 4 + [0] * 4, [1, 1, 0, 0] + [0] * 4  # 50 % -> 25 % on 8 places
    ch = un.paired_change(before, after)
    assert ch.value == pytest.approx(-0.25) and ch.lo < 0 and ch.hi >= 0 and ch.n == 8
    assert un.points(ch.value) == "−25 pts" and un.points(0.061) == "+6 pts" and un.points(0.0) == "±0 pts"
    assert un.interval_text(ch, un.points) == f"95% CI {un.points(ch.lo)[:-4]} to {un.points(ch.hi)}"
    with pytest.raises(ValueError):
        un.paired_change([1, 0], [1])
    e = un.wilson(113, 241)
    assert un.describe(e) == "95% CI 41–53% · n = 241"
    assert un.describe(un.wilson(2, 8)).endswith("n = 8 · indicative (small sample)")
    km = un.bootstrap(np.array([900.0, 1500, 2100, 1200, 1800]), np.median)
    assert un.interval_text(km, lambda v: f"{v:,.0f} km").count("km") == 1


def test_reliability_bins_have_wilson_intervals_and_consistent_headline():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 300)
    ok = rng.uniform(0, 1, 300) < conf * 0.9
    conf[:5] = 1.0  # the last bin (90-100 %) must be kept
    bins, _ = xs.reliability(conf, ok, 10)
    assert bins["hi"].max() == 1.0 and bins["n"].sum() == 300
    assert ((bins["acc_lo"] <= bins["accuracy"]) & (bins["accuracy"] <= bins["acc_hi"])).all()
    f = xs.calibration_figures(conf, ok)
    assert f["gap_pts"] == pytest.approx(f["conf_pct"] - f["acc_pct"], abs=1e-9)  # the shown numbers subtract
    assert f["conf_pct"] == round(100 * conf.mean(), 1) and f["n"] == 300
    # 52.44 % - 46.56 % would show "52% - 47%" next to "+6"; shown to one decimal both read 52.4 - 46.6 = 5.8
    g = xs.calibration_figures([0.5244] * 10_000, [True] * 4656 + [False] * 5344)
    assert (g["conf_pct"], g["acc_pct"], g["gap_pts"]) == (52.4, 46.6, 5.8)


def test_reliability_chart_spans_the_whole_axis():
    bins, _ = xs.reliability([0.05, 0.95, 0.99, 1.0], [False, True, True, True], 10)
    from app.explore import charts as xc

    spec = xc.reliability_chart(bins).to_dict()
    domains = {str(layer["encoding"]["x"].get("scale", {}).get("domain")) for layer in spec["layer"]
               if "x" in layer.get("encoding", {})}
    assert domains == {"[-0.02, 1.02]"}  # 0-100 % and a margin: the 90-100 % bin is never cut off
    assert any(layer["mark"]["type"] == "rule" for layer in spec["layer"] if isinstance(layer["mark"], dict))


def test_per_country_precision_recall_f1_match_sklearn():
    locs = ten_locations()
    from sklearn.metrics import precision_recall_fscore_support

    pc = xs.per_country(locs).set_index("country")
    lab = locs[locs["true_country"] != ""]
    classes = sorted(set(lab["true_country"]) | set(lab["pred_country"]))
    p, r, f, _ = precision_recall_fscore_support(lab["true_country"], lab["pred_country"], labels=classes,
                                                 zero_division=0)
    ref = pd.DataFrame({"p": p, "r": r, "f": f}, index=classes)
    for c in pc.index:
        assert pc.loc[c, "accuracy"] == pytest.approx(ref.loc[c, "r"])
        assert pc.loc[c, "f1"] == pytest.approx(ref.loc[c, "f"])
        if pc.loc[c, "predicted"]:
            assert pc.loc[c, "precision"] == pytest.approx(ref.loc[c, "p"])
    assert pc.loc["NO", "predicted"] == 1 and pc.loc["FI", "predicted"] == 3 and math.isnan(pc.loc["US", "precision"])
    assert pc.loc["NO", "acc_lo"] < 1 / 3 < pc.loc["NO", "acc_hi"]
    m = xs.macro_scores(locs)
    assert m["f1"] == pytest.approx(ref["f"].mean()) and m["classes"] == len(classes)


def _audit_rows(n: int, right_before: int, right_after: int, source: str = "gsv") -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append({"location_id": f"{source}{i}", "source": source, "true_country": "HR",
                     "shown_country": "HR" if i < right_before else "SI", "shown_correct": i < right_before,
                     "no_bottom_country": "HR" if i < right_after else "SI", "no_bottom_correct": i < right_after,
                     "no_edges_country": "HR" if i < right_before else "SI", "no_edges_correct": i < right_before,
                     "bottom_share": 0.2, "edge_share": 0.2, "bottom_area": 0.15, "edge_area": 0.25})
    return pd.DataFrame(rows)


def test_audit_findings_call_an_effect_only_when_the_interval_excludes_zero():
    small = av.group_figures(_audit_rows(8, 4, 2))  # the old headline: "costs 25 points (50% -> 25%)" on 8 places
    text = " ".join(av.findings(small))
    assert "no clear effect" in text and "costs" not in text and "Indicative" in text and "n = 8" in text
    big = av.group_figures(_audit_rows(200, 100, 50))
    text = " ".join(av.findings(big))
    assert ("Hiding the bottom band (capture car, 'Google' watermark) costs 25 points of country accuracy "
            "(50% → 25%, n = 200; 95% CI −") in text
    assert "Indicative" not in text
    t = av.by_source_table(pd.concat([_audit_rows(40, 20, 10), _audit_rows(6, 3, 3, "ui")]))
    assert t["Source"].tolist() == ["All sources", "gsv", "ui"] and t["Locations"].tolist() == [46, 40, 6]
    assert t.set_index("Source").loc["ui", "Sample"] == "indicative"
    assert av.interval_width(50) < av.interval_width(8)
    assert av.seconds_per_location({"seconds": 90.0, "overall": {"n": 10}}) == 9.0
    assert av.seconds_per_location(None) == av.DEFAULT_SECONDS_PER_LOCATION


def test_similarity_keeps_countries_with_enough_places_and_reports_the_rest():
    labels, x = ["AU", "NZ", "UY", "IS"], np.array([[1.0, 0.1], [0.9, 0.2], [0.0, 1.0], [0.1, 0.9]])
    kept, xk, n, left = xe.keep_frequent(labels, x, [25, 12, 3, 1], 10)
    assert kept == ["AU", "NZ"] and left == ["UY", "IS"] and n.tolist() == [25, 12] and len(xk) == 2
    s = xe.similarity_matrix(x)
    assert s[0, 1] > 0.95 and s[0, 2] < 0.2 and np.allclose(np.diag(s), 1.0)
    long = xe.similarity_long(labels, x, [25, 12, 3, 1])
    assert len(long) == 16 and long["cos"].isna().sum() == 4 and "Australia (25)" in set(long["a_name"])
    df = xe.embedding_frame(labels, np.zeros((4, 2)), x, [25, 12, 3, 1])
    assert df.loc[0, "similar"].startswith("New Zealand 0.9") and df["n"].tolist() == [25, 12, 3, 1]


def test_gallery_features_average_places_per_country_and_count_them():
    from types import SimpleNamespace

    emb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    gallery = type("Gallery", (), {"embed": emb, "country": np.array([0, 0, 2, 2]), "__len__": lambda self: 4})()
    pred = SimpleNamespace(gallery=gallery,
                           cells=SimpleNamespace(table=pd.DataFrame({"country_code": ["AU", "BR", "CA"]})))
    labels, x, n = xe.gallery_features(pred)
    assert labels == ["AU", "CA"] and n.tolist() == [2, 2]  # BR has no place
    assert np.allclose(x.mean(0), 0.0)  # centred on the mean country: AU [1, 0], CA [0.3, 0.9]
    assert np.allclose(x[0], [0.35, -0.45])
    pred.gallery = None
    assert xe.gallery_features(pred)[0] == []
