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
   regression); entropy, expected error and the per-country probabilities (:func:`model.net.inference.decode`);
4. with a gallery, E is chosen among the look-alike training places in the top cells
   (:func:`model.net.retrieval.refine`), and its expected score is computed under the cell probabilities.

Shapes: ``views`` maps output names to arrays with a leading view axis V: ``logits`` (V, C),
``country_logits`` (V, K), ``offset`` (V, C, 2) or ``xyz`` (V, 3), ``embed`` (V, H).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from .inference import combine_country, decode, expected_score, fuse_views
from .retrieval import Gallery, refine, reweight


@dataclass
class PlaceAnswer:
    """The answer for one place. Degrees, km, GeoGuessr points (0..5000), probabilities in 0..1.

    ``probs`` (C,) final cell probabilities; ``order`` (C,) cells, the predicted one first;
    ``pos_lat/pos_lon`` (C,) each cell's position estimate; ``lat/lon`` M; ``best_lat/best_lon`` E and
    ``best_expected_score`` its expected score; ``country_probs`` by ISO code, descending;
    ``embed`` (H,) the place's mean embedding (None without one); ``refine`` what the gallery step
    returned (look-alike ``neighbours`` and ``weights``) or None."""

    probs: np.ndarray
    order: np.ndarray
    pos_lat: np.ndarray
    pos_lon: np.ndarray
    lat: float
    lon: float
    best_lat: float
    best_lon: float
    best_expected_score: float
    entropy: float
    expected_km: float
    country_probs: pd.Series
    embed: np.ndarray | None = field(default=None, repr=False)
    refine: dict | None = field(default=None, repr=False)

    @property
    def refined(self) -> bool:
        """True when the best guess came from look-alike training places."""
        return self.refine is not None

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
                 refine_guess: bool = True) -> PlaceAnswer:
    """The answer for one place from its views' network outputs (see the module docstring).

    ``table``: the cell table; ``map_size_km``: the map the best guess plays on (None = the world map);
    ``refine_guess=False`` keeps the gallery's country vote but not its best guess (per-image rows)."""
    probs = place_probs(views, cell_cidx, gallery)
    emb = _mean(views, "embed")
    d = decode(probs, table, _mean(views, "offset"), _mean(views, "xyz"), map_size_km)
    r = refine(probs, emb, gallery, map_size_km) if refine_guess and gallery is not None and emb is not None else None
    best_lat, best_lon, best_score = d["best_lat"], d["best_lon"], d["best_expected_score"]
    if r is not None:  # the refined guess's expected score under the cell distribution, not refine's own
        best_lat, best_lon = r["lat"], r["lon"]  # (its look-alike weights are far too sure)
        best_score = expected_score(r["lat"], r["lon"], probs, d["pos_lat"], d["pos_lon"], map_size_km)
    return PlaceAnswer(probs, d["order"], d["pos_lat"], d["pos_lon"], d["lat"], d["lon"], best_lat, best_lon,
                       best_score, d["entropy"], d["expected_km"], d["country_probs"], emb, r)
