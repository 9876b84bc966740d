"""The per-place answer, written once: from the network's outputs for the views of one place (and the
checkpoint's retrieval gallery) to cell probabilities, the predicted point M and the best guess E.

Every answer goes through :func:`answer_place`: :class:`model.predict.Predictor`, the evaluation (per
place, and per image as a one-view place), the gallery's tuning, ``model.tune`` and the ensemble
benchmark. The steps:

1. fuse the views' cell logits (mean of log-probabilities) and, with a country head, its logits, and give
   each country the head's mass (:func:`model.net.inference.combine_country`);
2. with a gallery and an embedding, mix the look-alike training places' country vote into the country
   masses (:func:`model.net.retrieval.reweight`);
3. decode: M is the likeliest cell of the likeliest country moved by its offset (or the direct
   regression); entropy and the per-country probabilities (:func:`model.net.inference.decode`);
4. the answer's point distribution: each cell's probability at its position estimate or, with a gallery,
   the top cells' probability spread over their look-alike training places (:mod:`model.net.guess`);
5. E is the candidate (support points, M, the top-N positions) with the highest expected GeoGuessr score
   under that distribution, so E's expected score is never below M's; M's expected score and expected
   error are computed under the same distribution.

Shapes: ``views`` maps output names to arrays with a leading view axis V: ``logits`` (V, C),
``country_logits`` (V, K), ``offset`` (V, C, 2) or ``xyz`` (V, 3), ``embed`` (V, H).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from model.data.revgeo import country_name

from .guess import PointDistribution, best_guess, point_distribution
from .inference import combine_country, decode, fuse_views
from .retrieval import Gallery, reweight


@dataclass
class PlaceAnswer:
    """The answer for one place. Degrees, km, GeoGuessr points (0..5000), probabilities in 0..1.

    ``probs`` (C,) final cell probabilities; ``order`` (C,) cells, the predicted one first;
    ``pos_lat/pos_lon`` (C,) each cell's position estimate; ``lat/lon`` M; ``best_lat/best_lon`` E and
    ``best_expected_score`` its expected score and ``expected_score`` M's, ``expected_km`` M's expected
    error, all under the answer's point distribution ``points`` (:mod:`model.net.guess`: the cells'
    probabilities, the top cells' mass spread over their look-alike training places);
    ``country_probs`` by ISO code, descending; ``embed`` (H,) the place's mean embedding (None without one)."""

    probs: np.ndarray
    order: np.ndarray
    pos_lat: np.ndarray
    pos_lon: np.ndarray
    lat: float
    lon: float
    best_lat: float
    best_lon: float
    best_expected_score: float
    expected_score: float
    entropy: float
    expected_km: float
    country_probs: pd.Series
    embed: np.ndarray | None = field(default=None, repr=False)
    points: PointDistribution | None = field(default=None, repr=False)

    @property
    def refined(self) -> bool:
        """True when look-alike training places placed some of the answer's mass (retrieval)."""
        return self.points is not None and bool((self.points.place >= 0).any())

    def look_alikes(self, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` heaviest look-alike training places of the answer: (gallery index, weight in 0..1)."""
        if self.points is None:
            return []
        m = np.flatnonzero(self.points.place >= 0)
        m = m[np.argsort(-self.points.w[m])][:k]
        return [(int(self.points.place[i]), float(self.points.w[i])) for i in m]

    @property
    def cell(self) -> int:
        """The predicted cell (M's)."""
        return int(self.order[0])


def _mean(views: Mapping[str, np.ndarray], key: str) -> np.ndarray | None:
    return views[key].mean(0) if key in views else None


def place_probs(views: Mapping[str, np.ndarray], cell_cidx: np.ndarray,
                gallery: Gallery | None = None) -> np.ndarray:
    """Steps 1-2: the place's cell probabilities (C,) from its views' outputs; ``cell_cidx`` (C,) each
    cell's country-head class (:func:`model.net.inference.cell_country_index`)."""
    cl = views.get("country_logits")
    p = combine_country(fuse_views(views["logits"]), fuse_views(cl) if cl is not None else None, cell_cidx)
    emb = _mean(views, "embed")
    if gallery is not None and emb is not None:
        p = reweight(p, emb, gallery, cell_cidx)
    return p


def answer_place(views: Mapping[str, np.ndarray], table: pd.DataFrame, cell_cidx: np.ndarray,
                 gallery: Gallery | None = None, map_size_km: float | None = None,
                 refine_guess: bool = True, top_n: int = 5) -> PlaceAnswer:
    """The answer for one place from its views' network outputs (see the module docstring).

    ``table``: the cell table; ``map_size_km``: the map the best guess plays on (None = the world map);
    ``refine_guess=False`` keeps the gallery's country vote but places each cell's mass at its position
    estimate (per-image rows); ``top_n``: the top cells' positions are candidates for E besides M."""
    probs = place_probs(views, cell_cidx, gallery)
    emb = _mean(views, "embed")
    d = decode(probs, table, _mean(views, "offset"), _mean(views, "xyz"))
    dist = point_distribution(probs, d["pos_lat"], d["pos_lon"], emb, gallery if refine_guess else None)
    top = np.argsort(-probs, kind="stable")[:top_n]
    best_lat, best_lon, best_score = best_guess(dist, np.r_[d["lat"], d["pos_lat"][top]],
                                                np.r_[d["lon"], d["pos_lon"][top]], map_size_km)
    m_score = float(dist.expected_scores(d["lat"], d["lon"], map_size_km)[0])
    return PlaceAnswer(probs, d["order"], d["pos_lat"], d["pos_lon"], d["lat"], d["lon"], best_lat, best_lon,
                       best_score, m_score, d["entropy"], dist.expected_km(d["lat"], d["lon"]), d["country_probs"],
                       emb, dist)


@dataclass
class Guess:
    """One candidate cell: its name, country, position estimate (degrees) and probability."""

    cell_id: int
    name: str
    country_code: str
    country: str
    admin1: str
    lat: float
    lon: float
    prob: float


@dataclass
class Prediction:
    """The answer for one place (one image or fused views)."""

    top: list[Guess]
    lat: float  # predicted coordinates: top[0] (the likeliest cell of the likeliest country), moved by its offset
    lon: float
    best_lat: float  # the guess that maximises the expected GeoGuessr score (retrieval-refined with a gallery)
    best_lon: float
    best_expected_score: float  # points (0..5000) the best guess scores on average under the cell probabilities
    expected_score: float  # points M scores on average under the same probabilities
    country_code: str
    country: str
    country_probs: list[tuple[str, str, float]]
    entropy: float  # nats, over cells
    expected_km: float  # expected distance between the prediction and the true place under the model
    cell_probs: np.ndarray = field(repr=False)
    n_views: int = 1
    crop: float = 0.0
    refined: bool = False  # country vote and best guess from look-alike training places (model.net.retrieval)

    @property
    def confidence(self) -> float:
        """Probability of the predicted cell (top[0])."""
        return self.top[0].prob if self.top else 0.0

    @property
    def m_guess(self) -> Guess:
        """M's cell: the likeliest cell of the likeliest country (``top[0]``; not always the likeliest cell)."""
        return self.top[0]

    def prob_rank(self, cell_id: int) -> int:
        """Rank of cell ``cell_id`` by probability over all cells (1 = the likeliest; ties share the better rank)."""
        p = np.asarray(self.cell_probs, dtype=float)
        return int((p > p[int(cell_id)]).sum()) + 1

    @property
    def m_is_likeliest(self) -> bool:
        """True when M's cell is also the single likeliest cell (false at 13 of the 195 test places)."""
        return self.prob_rank(self.m_guess.cell_id) == 1

    def by_probability(self, n: int | None = None) -> list[Guess]:
        """The listed guesses (``top``) in order of probability, likeliest first (M where its probability puts
        it), at most ``n``. ``top`` holds M and the likeliest other cells, so the first ``len(top) - 1`` are the
        likeliest cells of all."""
        return sorted(self.top, key=lambda g: -g.prob)[:n]

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("cell_probs")
        d["country_probs"] = [{"country_code": c, "country": n, "prob": p} for c, n, p in self.country_probs]
        return d


def to_prediction(a: PlaceAnswer, table: pd.DataFrame, top_k: int = 5, n_views: int = 1,
                  crop: float = 0.0) -> Prediction:
    """The :class:`Prediction` (what every predictor returns) of a per-place answer over cell ``table``."""
    idx = a.order[:top_k]
    cols = [table[c].to_numpy()[idx] for c in ("name", "country_code", "country", "admin1")]  # once, not per row
    top = [Guess(int(i), str(n), str(cc), str(c), str(a1), float(a.pos_lat[i]), float(a.pos_lon[i]), float(a.probs[i]))
           for i, n, cc, c, a1 in zip(idx, *cols)]
    cp = [(str(k), country_name(k), float(v)) for k, v in a.country_probs.items()]
    return Prediction(top, a.lat, a.lon, a.best_lat, a.best_lon, a.best_expected_score, a.expected_score, cp[0][0],
                      cp[0][1], cp, a.entropy, a.expected_km, a.probs, n_views, crop, a.refined)
