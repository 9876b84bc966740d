"""Country similarity: feature vectors (hard / soft confusion, class weights) and 2-D embeddings."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from app.explore import embed as xe


def test_continents():
    assert xe.continent("no") == "Europe" and xe.continent("BR") == "South America"
    assert xe.continent("JP") == "Asia" and xe.continent("ZZ") == "Other"


def test_hard_features_are_row_normalised_confusion(locs):
    labels, x = xe.hard_features(locs)
    assert labels == ["BR", "FI", "HR", "JP", "NO", "US"]
    assert np.allclose(x.sum(1), 1.0)
    cols = sorted({"BR", "FI", "HR", "JP", "NO", "US", "SI", "CA"})
    no = dict(zip(cols, x[labels.index("NO")]))
    assert no["FI"] == pytest.approx(2 / 3) and no["NO"] == pytest.approx(1 / 3)


def test_soft_features_mean_top_k_mass():
    images = pd.DataFrame({"true_country": ["NO", "NO", "FI"],
                           "top1_country": ["FI", "NO", "FI"], "top1_prob": [0.6, 0.5, 0.8],
                           "top2_country": ["NO", "NO", "SE"], "top2_prob": [0.2, 0.3, 0.2]})
    labels, x = xe.soft_features(images, k=2)
    assert labels == ["FI", "NO"]
    assert np.allclose(x.sum(1), 1.0)
    # NO: image 1 -> FI .75, NO .25; image 2 -> NO 1.0 -> mean FI .375, NO .625. Columns: FI, NO, SE.
    assert x[1].tolist() == pytest.approx([0.375, 0.625, 0.0])
    assert x[0].tolist() == pytest.approx([0.8, 0.0, 0.2])


def test_weight_features_average_cells_per_country():
    w = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    pred = SimpleNamespace(net=SimpleNamespace(head=SimpleNamespace(cls=SimpleNamespace(weight=w))),
                           cells=SimpleNamespace(table=pd.DataFrame({"country_code": ["hr", "HR", "FR"]})))
    labels, x = xe.weight_features(pred)
    assert labels == ["FR", "HR"] and x.tolist() == [[0.0, 2.0], [2.0, 0.0]]
    pred.cells.table = pd.DataFrame({"country_code": ["HR", "FR"]})
    with pytest.raises(ValueError):
        xe.weight_features(pred)


def _two_groups(n: int = 8, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    a = np.array([1.0, 0, 0, 0, 0, 0]) + rng.normal(0, 0.05, (n, 6))
    b = np.array([0, 0, 0, 0, 0, 1.0]) + rng.normal(0, 0.05, (n, 6))
    return [f"A{i}" for i in range(n)] + [f"B{i}" for i in range(n)], np.abs(np.vstack([a, b]))


@pytest.mark.parametrize("method", xe.METHODS)
def test_embedding_keeps_similar_countries_together(method):
    labels, x = _two_groups()
    xy = xe.embed(x, method, seed=0)
    assert xy.shape == (16, 2) and np.isfinite(xy).all()
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    nearest = d.argmin(1)
    assert all((i < 8) == (j < 8) for i, j in enumerate(nearest))  # every point's neighbour is in its group


def test_embedding_of_few_rows_and_unknown_method():
    assert xe.embed(np.ones((3, 4))).shape == (3, 2)
    assert xe.embed(np.zeros((0, 4))).shape == (0, 2)
    with pytest.raises(ValueError):
        xe.embed(np.random.default_rng(0).random((6, 3)), "pca")


def test_nearest_neighbours_and_frame():
    labels, x = _two_groups(4)
    nn = xe.nearest_neighbours(labels, x, k=3)
    assert all(n.startswith("A") for n in nn["A0"]) and "A0" not in nn["A0"]
    df = xe.embedding_frame(["NO", "FI", "BR"], np.zeros((3, 2)), np.eye(3))
    assert df["name"].tolist() == ["Norway", "Finland", "Brazil"]
    assert df["continent"].tolist() == ["Europe", "Europe", "South America"] and "similar" in df
