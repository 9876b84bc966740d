import math

import numpy as np
import pandas as pd
import pytest

from model.net.guess import best_guess, point_distribution
from model.net.inference import decode, expected_score, fuse_views
from model.evaluation.metrics import classification_report_frame, confusion_frame, distance_metrics, topk_accuracy


def test_topk_accuracy_hand_made():
    ranked = [["A", "B", "C"], ["B", "A", "C"], ["C", "B", "A"], ["A", "B", "C"]]
    truth = ["A", "A", "A", ""]  # the unlabeled row is skipped
    acc = topk_accuracy(ranked, truth, ks=(1, 2, 3))
    assert acc == {"top1": pytest.approx(1 / 3), "top2": pytest.approx(2 / 3), "top3": 1.0}


def test_topk_accuracy_skips_places_without_a_cell():
    # cells.assign gives -1 to label-only places: they have no cell to hit, so they are not misses
    acc = topk_accuracy([[3, 1], [1, 3], [0, 1]], [3, -1, np.int64(-1)], ks=(1, 2))
    assert acc == {"top1": 1.0, "top2": 1.0}
    assert np.isnan(topk_accuracy([[0]], [-1], ks=(1,))["top1"])


def test_the_predicted_cell_lies_in_the_predicted_country():
    # Country A holds 60% spread over three cells; country B's single cell (25%) is the likeliest cell.
    t = pd.DataFrame({"country_code": ["A", "A", "A", "B", "C"], "lat": [0.0, 1, 2, 40, -30],
                      "lon": [0.0, 1, 2, 40, 100]})
    d = decode(np.array([0.22, 0.20, 0.18, 0.25, 0.15]), t)
    assert d["country_probs"].index[0] == "A" and list(d["order"]) == [0, 3, 1, 2, 4]
    assert (d["lat"], d["lon"]) == (0.0, 0.0)
    one = decode(np.array([0.1, 0.1, 0.1, 0.6, 0.1]), t)  # usually the two agree: order is by probability
    assert list(one["order"]) == [3, 0, 1, 2, 4] and one["lat"] == 40


def test_expected_score_of_a_guess():
    lat, lon = np.array([0.0, 0.0]), np.array([0.0, 90.0])  # two places 10,008 km apart
    assert expected_score(0.0, 0.0, np.array([1.0, 0.0]), lat, lon) == pytest.approx(5000)
    half = expected_score(0.0, 0.0, np.array([0.5, 0.5]), lat, lon)
    assert half == pytest.approx(2500 + 2500 * math.exp(-10007.5 / 1492.7), rel=1e-3)


def test_distance_metrics_hand_made():
    d = np.array([0.5, 20, 100, 700, 2000, 5000, np.nan])
    m = distance_metrics(d, map_size_km=1000)
    assert m["n_with_coords"] == 6
    assert m["median_km"] == pytest.approx(400) and m["mean_km"] == pytest.approx(np.mean(d[:6]))
    assert m["acc_1km"] == pytest.approx(1 / 6) and m["acc_25km"] == pytest.approx(2 / 6)
    assert m["acc_200km"] == pytest.approx(3 / 6) and m["acc_750km"] == pytest.approx(4 / 6)
    assert m["acc_2500km"] == pytest.approx(5 / 6)
    assert m["geoscore_mean"] == pytest.approx(np.mean(5000 * np.exp(-d[:6] / 1492.7)))
    assert m["geoscore_scaled_mean"] == pytest.approx(np.mean(5000 * np.exp(-10 * d[:6] / 1000)))
    assert m["ref_accuracy_mean"] == pytest.approx(np.mean(np.exp(-d[:6] / 1160)))


def test_report_and_confusion():
    y, p = ["HR", "HR", "SI", "US"], ["HR", "SI", "SI", "US"]
    rep = classification_report_frame(y, p).set_index("class")
    assert rep.loc["HR", "precision"] == 1.0 and rep.loc["HR", "recall"] == 0.5
    assert rep.loc["SI", "precision"] == 0.5 and rep.loc["SI", "f1-score"] == pytest.approx(2 / 3)
    cm = confusion_frame(y, p)
    assert cm.loc["HR", "SI"] == 1 and cm.to_numpy().sum() == 4


def test_fuse_views_is_product_of_experts():
    a = np.log(np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1]]))
    p = np.exp(fuse_views(a))
    assert p.sum() == pytest.approx(1) and p[0] == pytest.approx(p[1]) and p[2] < p[0]


def test_best_guess_hedges_only_when_it_pays():
    # Four cells 500 km around a fifth, 0.24 each, 0.04 in the centre. Betting on one outer cell scores
    # 0.24 + 0.24*(2 f(707) + f(1000)) + 0.04 f(500) = 0.691 of 5000 in expectation; the centre scores
    # 0.96 f(500) + 0.04 = 0.726 (f(d) = exp(-d/1492.7)), so the best guess is the centre.
    r = 500 / 111.1949  # degrees of arc for 500 km
    table = pd.DataFrame({"lat": [0, 0, r, -r, 0.0], "lon": [r, -r, 0, 0, 0.0], "country_code": list("ABCDE")})
    probs = np.array([0.24, 0.24, 0.24, 0.24, 0.04])
    d = decode(probs, table)
    dist = point_distribution(probs, d["pos_lat"], d["pos_lon"])
    f = lambda km: math.exp(-km / 1492.7)  # noqa: E731
    lat, lon, score = best_guess(dist, d["lat"], d["lon"])
    assert (lat, lon) == pytest.approx((0.0, 0.0), abs=1e-9)
    assert score == pytest.approx(5000 * (0.96 * f(500) + 0.04), rel=2e-3)
    assert d["lat"] != 0 or d["lon"] != 0  # the most probable cell is an outer one
    # expected error of predicting an outer cell: 0.24*(2*707 + 1000) + 0.04*500
    assert dist.expected_km(d["lat"], d["lon"]) == pytest.approx(0.24 * (2 * 707.1 + 1000) + 0.04 * 500, rel=2e-3)
    # Two equal modes: exponential decay rewards commitment, the guess is a mode.
    t2 = table.iloc[[0, 1, 4]].reset_index(drop=True)
    two = decode(np.array([0.45, 0.45, 0.10]), t2)
    two_dist = point_distribution(two["probs"], two["pos_lat"], two["pos_lon"])
    assert best_guess(two_dist, two["lat"], two["lon"])[1] in (r, -r)
    assert list(two["country_probs"].index[:2]) in (["A", "B"], ["B", "A"])
    assert two["entropy"] == pytest.approx(-(2 * 0.45 * math.log(0.45) + 0.1 * math.log(0.1)))


def test_one_country_evaluation_gives_a_1x1_matrix_without_warnings(recwarn):
    from model.evaluation.metrics import classification_report_frame, confusion_frame

    cm = confusion_frame(["HR", "HR", "HR"], ["HR", "HR", "HR"])
    assert cm.shape == (1, 1) and int(cm.loc["HR", "HR"]) == 3
    rep = classification_report_frame(["HR", "HR"], ["HR", "HR"]).set_index("class")
    assert rep.loc["HR", "f1-score"] == 1.0
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
