"""E is what the pages say: the maximiser of the expected GeoGuessr score under the answer's own final
distribution (cell probabilities, the top cells' mass over their look-alike training places)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from model.data.images import open_image
from model.net.answer import answer_place
from model.net.checkpoint import DEFAULT_CHECKPOINT
from model.net.guess import point_distribution
from model.net.retrieval import Gallery
from model.predict import Predictor

pytestmark = pytest.mark.slow


def test_retrieval_moves_mass_inside_cells_never_between_them():
    probs = np.array([0.5, 0.3, 0.2])
    pos_lat, pos_lon = np.array([45.0, 35.0, -30.0]), np.array([16.0, 139.0, 150.0])
    emb = np.eye(3, 4, dtype=np.float32)
    g = Gallery(emb, np.array([45.5, 44.9, 35.6]), np.array([15.0, 16.9, 139.7]), np.array([0, 0, 1]),
                np.array([0, 0, 1]), top_cells=2, temperature=0.05)
    d = point_distribution(probs, pos_lat, pos_lon, emb[0], g)
    assert d.w.sum() == pytest.approx(1.0)
    for j, pj in enumerate(probs):
        assert d.w[d.cell == j].sum() == pytest.approx(pj)  # each cell keeps its probability
    assert set(d.place[d.cell == 0]) == {0, 1} and d.w[(d.cell == 0) & (d.place == 0)] > 0.49  # the look-alike
    assert list(d.place[d.cell == 2]) == [-1]  # outside the top cells: at its position estimate


def test_best_guess_never_scores_below_m_on_the_test_split(shared_manifest):
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped model")
    p = Predictor.load()
    test = shared_manifest[(shared_manifest.split == "test") & shared_manifest.lat.notna()]
    n = 0
    for _, g in test.groupby("location_id"):
        x = torch.stack([p.preprocess(open_image(f)) for f in g["path"]])
        a = answer_place(p.outputs(x), p.cells.table, p._cidx, p.gallery)
        assert a.best_expected_score >= a.expected_score - 1e-6 * 5000, g["location_id"].iloc[0]
        assert a.points.expected_scores(a.best_lat, a.best_lon)[0] == pytest.approx(a.best_expected_score)
        n += 1
    assert n == test["location_id"].nunique() > 150
